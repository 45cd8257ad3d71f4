"""The OpenAI-compatible backend against a tiny local HTTP server (stdlib, in a thread): chat completions,
retries, how samples are asked for, every fault as one clear APIError, the spec's options, and the
calculator over text completions with a scripted model that writes wrong digits in its calls."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from whygym.errors import UserError
from whygym.models import APIError, ModelNotFoundError, OpenAIBackend, load_backend
from whygym.models.load import BackendSettingError

from calculator_script import scripted  # noqa: E402  (tests/models/calculator_script.py)

TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>{% endif %}")
# What the scripted model answers; between backticks, the values it writes in its calculator calls (wrong).
SCRIPT = "ATE=<<0.8315-0.9066=`9.9999`>>, PN=<<min{1, 0.5/0.25}=`7`>> done"
RAW = SCRIPT.replace("`", "")
FIXED = "ATE=<<0.8315-0.9066=-0.0751>>, PN=<<min{1, 0.5/0.25}=1.0000>> done"


def complete_text(prompt: str, stop, max_tokens: int):
    """The scripted model behind a completions endpoint, one token per character: (text, stop hit or None,
    finish_reason)."""
    assert "<|assistant|>" in prompt, prompt
    out = scripted(SCRIPT, prompt.split("<|assistant|>", 1)[1])
    hits = [(out.find(s), s) for s in (stop or []) if s in out]
    cut, hit = min(hits) if hits else (len(out), None)
    piece = out[:cut]
    if len(piece) > max_tokens:
        return piece[:max_tokens], None, "length"
    return piece, hit, "stop"


class _Server:
    """Canned completions; the first ``fail_first`` requests fail with ``fail_status`` (retries).

    ``style``: ``"vllm"`` (``/v1/completions`` reports ``stop_reason``), ``"plain"`` (it does not) or
    ``"llamacpp"`` (also llama.cpp's own ``/completions`` and ``/chat/completions`` at the root, and
    ``GET /props``). ``ignore_n``: chat answers once whatever ``n`` asks (as llama.cpp's server)."""

    def __init__(self, fail_first=1, fail_status=503, style="vllm", ignore_n=False):
        self.requests, self.auth, self.failures_left, self.fail_status = [], [], fail_first, fail_status
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, status, obj):
                data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status >= 500:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                with outer.lock:
                    outer.requests.append((self.path, None))
                if self.path == "/props" and style == "llamacpp":
                    return self.reply(200, {"chat_template": TEMPLATE})
                self.reply(404, {"error": {"message": "File Not Found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.requests.append((self.path, body))
                    outer.auth.append(self.headers.get("Authorization"))
                    fail = outer.failures_left > 0
                    outer.failures_left -= fail
                if fail:
                    return self.reply(outer.fail_status, b'{"error": "busy"}\n\n  really busy\n')
                n = 1 if ignore_n else body.get("n", 1)
                chat = ["/v1/chat/completions"] + (["/chat/completions"] if style == "llamacpp" else [])
                if self.path in chat:
                    user = body["messages"][-1]["content"]
                    choices = [{"index": i, "message": {"role": "assistant", "content": f"echo {user} #{i}"},
                                "finish_reason": "length" if "long" in user else "stop"} for i in range(n)]
                    return self.reply(200, {"choices": choices[::-1],  # out of order on purpose
                                            "usage": {"prompt_tokens": 11, "completion_tokens": 4 * len(choices)}})
                if self.path == "/v1/completions":
                    text, hit, finish = complete_text(body["prompt"], body.get("stop"), body["max_tokens"])
                    choice = {"text": text, "finish_reason": finish}
                    if style == "vllm":
                        choice["stop_reason"] = hit
                    return self.reply(200, {"choices": [dict(choice, index=i) for i in range(n)],
                                            "usage": {"prompt_tokens": len(body["prompt"]),
                                                      "completion_tokens": n * (len(text) + 1)}})
                if self.path == "/completions" and style == "llamacpp":
                    text, hit, finish = complete_text(body["prompt"], body.get("stop"), body["max_tokens"])
                    kind = "limit" if finish == "length" else "word" if hit else "eos"
                    return self.reply(200, {"content": text, "stop_type": kind, "stopping_word": hit or "",
                                            "tokens_predicted": len(text) + 1, "tokens_evaluated": len(body["prompt"])})
                self.reply(404, {"error": {"message": "File Not Found", "type": "not_found_error"}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.root = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = self.root + "/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def posts(self, path=None):
        return [b for p, b in self.requests if b is not None and (path is None or p == path)]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


@pytest.fixture
def make_server():
    made = []

    def make(**kw):
        made.append(_Server(**kw))
        return made[-1]

    yield make
    for s in made:
        s.close()


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more: connection refused
    return port


# ------------------------------------------------------------------------------------- chat completions
def test_chat_completions_with_retry_and_n(server, monkeypatch):
    monkeypatch.setenv("WHYGYM_TEST_KEY", "sk-test")
    be = OpenAIBackend("tiny", server.url, api_key_env="WHYGYM_TEST_KEY", backoff=0.01, concurrency=3)
    res = be.generate(["a", "b", "long c"], max_new_tokens=7, temperature=0.8, n=2, seed=5, system="sys")
    assert [[g.text for g in r] for r in res] == [["echo a #0", "echo a #1"], ["echo b #0", "echo b #1"],
                                                  ["echo long c #0", "echo long c #1"]]
    assert res[2][0].finish_reason == "length" and res[0][0].finish_reason == "stop"
    assert (res[0][0].n_prompt_tokens, res[0][0].n_completion_tokens) == (11, 4)
    assert len(server.requests) == 4 and be.n_requests == 4  # 3 prompts + 1 retry after the 503
    assert be.sampling_mode == "n_in_request"  # the server honours n: detected on the first request
    path, body = server.requests[-1]
    assert path == "/v1/chat/completions"
    assert body["messages"][0] == {"role": "system", "content": "sys"}
    assert (body["max_tokens"], body["temperature"], body["n"], body["seed"], body["model"]) == (7, 0.8, 2, 5, "tiny")
    assert set(server.auth) == {"Bearer sk-test"}
    assert "sk-test" not in json.dumps(be.config)


def test_one_request_per_sample_when_told(server):
    be = OpenAIBackend("tiny", server.url, backoff=0.01, n_in_request=False)
    res = be.generate(["a"], max_new_tokens=3, temperature=1.0, n=3, seed=10)
    assert len(res[0]) == 3 and be.sampling_mode == "one_request_per_sample"
    assert sorted({b["seed"] for b in server.posts()}) == [10, 11, 12]  # (one was retried)
    assert all(b["n"] == 1 for b in server.posts())


def test_server_that_ignores_n_is_detected_once(make_server):
    s = make_server(fail_first=0, ignore_n=True)
    be = OpenAIBackend("tiny", s.url, backoff=0.01)
    config = dict(be.config)
    res = be.generate(["a", "b"], max_new_tokens=3, temperature=1.0, n=3, seed=10)
    assert [len(r) for r in res] == [3, 3] and be.sampling_mode == "one_request_per_sample"
    assert len(s.requests) == 1 + 2 * 3  # the probe (n=3, one choice back), then one request per sample
    assert s.posts()[0]["n"] == 3 and all(b["n"] == 1 for b in s.posts()[1:])
    for user in ("a", "b"):
        assert sorted(b["seed"] for b in s.posts()[1:] if b["messages"][-1]["content"] == user) == [10, 11, 12]
    be.generate(["c"], max_new_tokens=3, temperature=1.0, n=3, seed=10)
    assert len(s.requests) == 7 + 3  # decided: no second probe
    assert be.config == config  # the cache key did not move


def test_fewer_choices_with_n_in_request_true_is_an_error(make_server):
    s = make_server(fail_first=0, ignore_n=True)
    with pytest.raises(APIError, match=r"asked for n=3 choices, got 1.*n_in_request=false") as e:
        OpenAIBackend("tiny", s.url, n_in_request=True).generate(["a"], max_new_tokens=3, temperature=1.0, n=3)
    assert s.url in str(e.value) and "prompt 1 of 1" in str(e.value)


def test_greedy_n_sends_one_request(server):
    be = OpenAIBackend("tiny", server.url, backoff=0.01)
    res = be.generate(["a"], max_new_tokens=3, n=4)
    assert len(res[0]) == 4 and len({g.text for g in res[0]}) == 1
    assert all(b["n"] == 1 for b in server.posts())


def test_loglikelihood_says_what_to_use(server):
    be = load_backend(f"openai:tiny@{server.url}", backoff=0.01)
    assert be.name == "openai:tiny" and be.config == {"backend": "openai", "model": "tiny", "base_url": server.url}
    with pytest.raises(NotImplementedError, match="log-probabilities"):
        be.loglikelihood(["a"], ["b"])


# ------------------------------------------------------------------------------------------------ faults
def _one_line_user_error(err: BaseException) -> str:
    assert isinstance(err, UserError)  # the whygym CLI prints it without a traceback
    assert "\n" not in str(err)
    return str(err)


def test_server_down():
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    be = OpenAIBackend("tiny", url, backoff=0.001, max_retries=1, timeout=2, concurrency=1)
    with pytest.raises(APIError) as e:
        be.generate(["a", "b"], max_new_tokens=3)
    msg = _one_line_user_error(e.value)
    assert f"POST {url}/chat/completions (prompt 1 of 2" in msg and "after 2 attempts" in msg
    assert "Connection refused" in msg and "is the server running" in msg


def test_http_500_after_retries(make_server):
    s = make_server(fail_first=100, fail_status=500)
    be = OpenAIBackend("tiny", s.url, backoff=0.001, max_retries=2)
    with pytest.raises(APIError) as e:
        be.generate(["a"], max_new_tokens=3)
    msg = _one_line_user_error(e.value)
    assert len(s.requests) == 3 and "after 3 attempts" in msg and 'HTTP 500: {"error": "busy"} really busy' in msg
    assert s.url in msg and "see its log" in msg


def test_http_500_for_n_suggests_one_request_per_sample(make_server):
    s = make_server(fail_first=100, fail_status=500)
    with pytest.raises(APIError, match="n_in_request=false"):
        OpenAIBackend("tiny", s.url, backoff=0.001, max_retries=0).generate(["a"], max_new_tokens=3,
                                                                            temperature=1.0, n=2)


def test_wrong_base_url(make_server):
    server = make_server(fail_first=0)
    be = OpenAIBackend("tiny", server.root, backoff=0.001)  # the root, without /v1
    with pytest.raises(APIError) as e:
        be.generate(["a"], max_new_tokens=3)
    msg = _one_line_user_error(e.value)
    assert len(server.requests) == 1  # a 404 is not retried
    assert f"POST {server.root}/chat/completions (prompt 1 of 1" in msg and "HTTP 404" in msg
    assert "base URL" in msg and "/v1" in msg


def test_client_errors_are_not_retried(make_server):
    s = make_server(fail_first=1, fail_status=400)
    with pytest.raises(APIError, match="HTTP 400") as e:
        OpenAIBackend("tiny", s.url, backoff=0.001).generate(["a"], max_new_tokens=3)
    assert len(s.requests) == 1 and "send_seed=false" in _one_line_user_error(e.value)


def test_first_failure_cancels_the_rest():
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    be = OpenAIBackend("tiny", url, backoff=0.001, max_retries=0, concurrency=2)
    with pytest.raises(APIError):
        be.generate([f"p{k}" for k in range(50)], max_new_tokens=3)
    assert be.n_requests < 50


# ------------------------------------------------------------------------------------------ spec options
def test_spec_options(server):
    spec = (f"openai:tiny@{server.url}?n_in_request=false&concurrency=4&timeout=60&api_key_env=MY_KEY"
            "&max_retries=2&backoff=0.5&send_seed=false&extra.top_k=20&extra.note=hi")
    be = load_backend(spec, concurrency=8)  # the spec wins over keyword arguments
    assert (be.n_in_request, be.concurrency, be.timeout, be.api_key_env, be.max_retries, be.backoff, be.send_seed) \
        == (False, 4, 60.0, "MY_KEY", 2, 0.5, False)
    assert be.sampling_mode == "one_request_per_sample" and be.base_url == server.url
    assert be.config["extra_body"] == {"top_k": 20, "note": "hi"}
    be.generate(["a"], max_new_tokens=3)
    assert server.posts()[-1]["top_k"] == 20 and "seed" not in server.posts()[-1]
    assert load_backend(f"openai:tiny@{server.url}?n_in_request=auto").n_in_request is None
    for bad, match in [("?concurency=2", "unknown option 'concurency'.*known options: api_key_env"),
                       ("?concurrency=zero", "concurrency='zero' is not valid"),
                       ("?concurrency=0", "concurrency='0'"),
                       ("?send_seed=maybe", "true or false"),
                       ("?timeout=1&timeout=2", "given twice"),
                       ("?tools=abacus", "unknown tool")]:
        with pytest.raises(ModelNotFoundError, match=match):
            load_backend(f"openai:tiny@{server.url}{bad}")
    with pytest.raises(ModelNotFoundError, match="openai:MODEL@BASE_URL"):
        load_backend("openai:tiny@127.0.0.1:8000/v1")


def test_settings_that_cannot_work(server, tmp_path):
    with pytest.raises(BackendSettingError, match=r"completions=true&chat_template=") as e:
        load_backend(f"openai:tiny@{server.url}", tools="calculator")
    _one_line_user_error(e.value)
    with pytest.raises(BackendSettingError, match="chat_template=server"):
        load_backend(f"openai:tiny@{server.url}?completions=true")
    with pytest.raises(BackendSettingError, match="neither"):
        load_backend(f"openai:tiny@{server.url}?completions=true&chat_template={tmp_path}/missing.jinja")
    with pytest.raises(APIError, match="/props"):  # not llama.cpp: no /props
        load_backend(f"openai:tiny@{server.url}?completions=true&chat_template=server", max_retries=0)


def test_chat_template_from_a_checkpoint_folder(make_server, tmp_path):
    server = make_server(fail_first=0)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": TEMPLATE}))
    be = load_backend(f"openai:tiny@{server.url}?completions=true&chat_template={tmp_path}")
    [[g]] = be.generate(["q"], max_new_tokens=200, system="be exact")
    assert g.text == RAW  # no tools: the model's own (wrong) digits
    [body] = server.posts("/v1/completions")
    assert body["prompt"] == "<|system|>be exact\n<|user|>q\n<|assistant|>" and "stop" not in body
    assert be.config["endpoint"] == "completions" and len(be.config["chat_template"]) == 16
    (tmp_path / "chat_template.jinja").write_text(TEMPLATE)  # newer checkpoints keep it there
    assert load_backend(f"openai:tiny@{server.url}?completions=true&chat_template={tmp_path}").chat_template == TEMPLATE


# ------------------------------------------------------------------------------------- calculator tool
def test_calculator_over_text_completions(make_server):
    s = make_server(fail_first=0)
    be = OpenAIBackend("tiny", s.url, completions=True, chat_template=TEMPLATE, tools="calculator")
    assert be.name == "openai:tiny+calculator" and be.sampling_mode == "one_request_per_sample"
    assert be.config["tools"] == {"name": "calculator", "decimals": 4, "max_calls": 16}
    [[g]] = be.generate(["ate?"], max_new_tokens=200)
    assert g.text == FIXED and g.finish_reason == "stop"
    bodies = s.posts("/v1/completions")
    assert len(s.requests) == len(bodies) == 1 + 2 * 2  # two calls: to "<<" and to "=" each, then the rest
    assert [b.get("stop") for b in bodies] == [["<<"], ["=", ">>"], ["<<"], ["=", ">>"], ["<<"]]
    head = "<|user|>ate?\n<|assistant|>"
    assert [b["prompt"][len(head):] for b in bodies][:3] == ["", "ATE=<<", "ATE=<<0.8315-0.9066=-0.0751>>"]
    assert all(b["prompt"].startswith(head) for b in bodies)
    assert g.n_prompt_tokens == len(head)
    generated = len("ATE=") + len("0.8315-0.9066") + len(", PN=") + len("min{1, 0.5/0.25}") + len(" done")
    assert g.n_completion_tokens == generated + 5  # + the stop or end token of each request

    # without the tool the same server gives the model's own digits
    plain = OpenAIBackend("tiny", s.url, completions=True, chat_template=TEMPLATE)
    assert plain.generate(["ate?"], max_new_tokens=200)[0][0].text == RAW
    assert "tools" not in plain.config and plain.config != be.config


def test_calculator_sampled_n(make_server):
    s = make_server(fail_first=0)
    be = OpenAIBackend("tiny", s.url, completions=True, chat_template=TEMPLATE, tools="calculator")
    res = be.generate(["x", "y"], max_new_tokens=200, temperature=0.7, n=3, seed=4)
    assert [[g.text for g in r] for r in res] == [[FIXED] * 3] * 2
    bodies = s.posts()
    assert len(bodies) == 2 * 3 * 5 and all(b["n"] == 1 for b in bodies)
    assert len({b["seed"] for b in bodies}) == len(bodies)  # every step of every sample its own seed
    assert all(b["temperature"] == 0.7 for b in bodies)
    # greedy: one chain of requests, repeated
    s.requests.clear()
    res = be.generate(["x"], max_new_tokens=200, n=3)
    assert len(res[0]) == 3 and len(s.requests) == 5


def test_calculator_budget_and_length(make_server):
    s = make_server(fail_first=0)
    be = OpenAIBackend("tiny", s.url, completions=True, chat_template=TEMPLATE, tools="calculator:max_calls=1")
    [[g]] = be.generate(["q"], max_new_tokens=200)
    assert g.text == "ATE=<<0.8315-0.9066=-0.0751>>, PN=<<min{1, 0.5/0.25}=7>> done"  # 2nd call left to the model
    be = OpenAIBackend("tiny", s.url, completions=True, chat_template=TEMPLATE, tools="calculator")
    [[g]] = be.generate(["q"], max_new_tokens=20)
    assert g.finish_reason == "length" and g.text.startswith("ATE=<<0.8315-0.9066=-0.0751>>")


def test_calculator_on_llamacpp_server(make_server):
    s = make_server(fail_first=0, style="llamacpp", ignore_n=True)
    be = load_backend(f"openai:tiny@{s.root}?completions=true&chat_template=server&tools=calculator")
    assert s.requests[0] == ("/props", None) and be.chat_template == TEMPLATE
    [[g]] = be.generate(["q"], max_new_tokens=200)
    assert g.text == FIXED
    assert len(s.posts("/completions")) == 5 and g.n_prompt_tokens == len("<|user|>q\n<|assistant|>")
    # llama.cpp ignores n: detected on the chat endpoint as on any other
    chat = load_backend(f"openai:tiny@{s.root}")
    assert len(chat.generate(["a"], max_new_tokens=3, temperature=1.0, n=2)[0]) == 2
    assert chat.sampling_mode == "one_request_per_sample"


def test_calculator_needs_to_know_why_a_completion_stopped(make_server):
    s = make_server(fail_first=0, style="llamacpp")
    be = OpenAIBackend("tiny", s.url, completions=True, chat_template=TEMPLATE, tools="calculator")
    with pytest.raises(APIError) as e:  # llama.cpp's /v1/completions: finish_reason "stop", nothing more
        be.generate(["q"], max_new_tokens=200)
    msg = _one_line_user_error(e.value)
    assert "without saying whether" in msg and f"without /v1 ({s.root})" in msg and "prompt 1 of 1" in msg
