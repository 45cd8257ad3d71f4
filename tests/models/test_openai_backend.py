"""The OpenAI-compatible backend against a tiny local HTTP server (stdlib, in a thread)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from whygym.models import APIError, OpenAIBackend, load_backend


class _Server:
    """Canned chat completions; the first request fails with 503 to exercise retries."""

    def __init__(self, fail_first=1, fail_status=503):
        self.requests, self.auth, self.failures_left, self.fail_status = [], [], fail_first, fail_status
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.requests.append((self.path, body))
                    outer.auth.append(self.headers.get("Authorization"))
                    fail = outer.failures_left > 0
                    outer.failures_left -= fail
                if fail:
                    self.send_response(outer.fail_status)
                    self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(b'{"error": "busy"}')
                    return
                user = body["messages"][-1]["content"]
                choices = [{"index": i, "message": {"role": "assistant", "content": f"echo {user} #{i}"},
                            "finish_reason": "length" if "long" in user else "stop"} for i in range(body.get("n", 1))]
                data = json.dumps({"choices": choices[::-1],  # out of order on purpose
                                   "usage": {"prompt_tokens": 11, "completion_tokens": 4 * len(choices)}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def test_chat_completions_with_retry_and_n(server, monkeypatch):
    monkeypatch.setenv("WHYGYM_TEST_KEY", "sk-test")
    be = OpenAIBackend("tiny", server.url, api_key_env="WHYGYM_TEST_KEY", backoff=0.01, concurrency=3)
    res = be.generate(["a", "b", "long c"], max_new_tokens=7, temperature=0.8, n=2, seed=5, system="sys")
    assert [[g.text for g in r] for r in res] == [["echo a #0", "echo a #1"], ["echo b #0", "echo b #1"],
                                                  ["echo long c #0", "echo long c #1"]]
    assert res[2][0].finish_reason == "length" and res[0][0].finish_reason == "stop"
    assert (res[0][0].n_prompt_tokens, res[0][0].n_completion_tokens) == (11, 4)
    assert len(server.requests) == 4 and be.n_requests == 4  # 3 prompts + 1 retry after the 503
    path, body = server.requests[-1]
    assert path == "/v1/chat/completions"
    assert body["messages"][0] == {"role": "system", "content": "sys"}
    assert (body["max_tokens"], body["temperature"], body["n"], body["seed"], body["model"]) == (7, 0.8, 2, 5, "tiny")
    assert set(server.auth) == {"Bearer sk-test"}
    assert "sk-test" not in json.dumps(be.config)


def test_one_request_per_sample_when_server_lacks_n(server):
    be = OpenAIBackend("tiny", server.url, backoff=0.01, n_in_request=False)
    res = be.generate(["a"], max_new_tokens=3, temperature=1.0, n=3, seed=10)
    assert len(res[0]) == 3
    assert sorted({b["seed"] for _, b in server.requests}) == [10, 11, 12]  # (one was retried)
    assert all(b["n"] == 1 for _, b in server.requests)


def test_greedy_n_sends_one_request(server):
    be = OpenAIBackend("tiny", server.url, backoff=0.01)
    res = be.generate(["a"], max_new_tokens=3, n=4)
    assert len(res[0]) == 4 and len({g.text for g in res[0]}) == 1
    assert all(b["n"] == 1 for _, b in server.requests)


def test_gives_up_after_max_retries():
    s = _Server(fail_first=100)
    try:
        be = OpenAIBackend("tiny", s.url, backoff=0.001, max_retries=2)
        with pytest.raises(APIError, match="3 attempts"):
            be.generate(["a"], max_new_tokens=3)
        assert len(s.requests) == 3
    finally:
        s.close()


def test_client_errors_are_not_retried():
    s = _Server(fail_first=1, fail_status=400)
    try:
        with pytest.raises(APIError, match="HTTP 400"):
            OpenAIBackend("tiny", s.url, backoff=0.001).generate(["a"], max_new_tokens=3)
        assert len(s.requests) == 1
    finally:
        s.close()


def test_connection_refused_is_reported():
    be = OpenAIBackend("tiny", "http://127.0.0.1:9/v1", backoff=0.001, max_retries=1, timeout=2)
    with pytest.raises(APIError, match="Is the server up"):
        be.generate(["a"], max_new_tokens=3)


def test_spec_and_loglikelihood(server):
    be = load_backend(f"openai:tiny@{server.url}", backoff=0.01)
    assert be.name == "openai:tiny" and be.config["base_url"] == server.url
    with pytest.raises(NotImplementedError, match="log-probabilities"):
        be.loglikelihood(["a"], ["b"])
