"""The scripted backend others use in their offline tests."""

from whygym.models import Backend, MockBackend, load_backend


def test_is_a_backend():
    assert isinstance(MockBackend(), Backend)


def test_echo_constant_mapping_function():
    assert MockBackend().generate(["hi there"], max_new_tokens=5)[0][0].text == "hi there"
    assert MockBackend("Yes").generate(["a", "b"], max_new_tokens=5)[1][0].text == "Yes"
    m = MockBackend({"a": "A!"}, default="?")
    assert [r[0].text for r in m.generate(["a", "b"], max_new_tokens=5)] == ["A!", "?"]
    f = MockBackend(lambda p, sample_index: f"{p}{sample_index}")
    assert [g.text for g in f.generate(["x"], max_new_tokens=5, temperature=1.0, n=3)[0]] == ["x0", "x1", "x2"]
    assert [g.text for g in f.generate(["x"], max_new_tokens=5, n=2)[0]] == ["x0", "x0"]  # greedy


def test_truncation_and_token_counts():
    [[g]] = MockBackend("one two three four").generate(["p q"], max_new_tokens=2)
    assert (g.text, g.finish_reason, g.n_completion_tokens, g.n_prompt_tokens) == ("one two", "length", 2, 2)
    [[g]] = MockBackend("one two").generate(["p"], max_new_tokens=5)
    assert (g.finish_reason, g.n_completion_tokens) == ("stop", 3)


def test_loglikelihood_deterministic_and_scriptable():
    a = MockBackend().loglikelihood(["p", "p"], ["Yes", "No"])
    assert a == MockBackend().loglikelihood(["p", "p"], ["Yes", "No"])
    assert -4 < a[0] <= -3
    assert MockBackend(loglik=lambda p, c: 1.5).loglikelihood(["p"], ["c"]) == [1.5]


def test_load_specs():
    assert load_backend("mock:echo").generate(["z"], max_new_tokens=2)[0][0].text == "z"
    assert load_backend("mock:").name == "mock:echo"
    assert load_backend("mock:text=No").generate(["z"], max_new_tokens=2)[0][0].text == "No"
    be = load_backend("mock:os.path:basename")
    assert be.generate(["a/b"], max_new_tokens=2)[0][0].text == "b"
    assert be.config == {"backend": "mock", "model": "mock:os.path:basename"}
