"""A local llama.cpp server (``python -m llama_cpp.server``, the ``llamacpp-server`` extra) on a free loopback
port, for the ``openai:`` backend: the one place that starts, waits for and stops it (the server tests and
``bench/backends.py`` use it).

    with llamacpp_server(gguf, threads=2, n_ctx=2048, log_path="server.log") as base:
        backend = load_backend(f"openai:smollm2@{base}?extra.repeat_penalty=1")

``base`` is the server's OpenAI-compatible root (``http://127.0.0.1:PORT/v1``). A server that exits or does
not answer ``GET /models`` within ``timeout`` seconds raises :class:`ServerStartError` with the end of its log.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator, Mapping

__all__ = ["ServerStartError", "free_port", "llamacpp_server"]


class ServerStartError(RuntimeError):
    """The server exited, or did not answer in time; the message ends with its log's last lines."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/models", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def llamacpp_server(gguf: str | os.PathLike, *, threads: int = 2, n_ctx: int = 2048,
                    log_path: str | os.PathLike, timeout: float = 120.0,
                    env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Start the server on ``gguf``, wait until it answers, yield its base URL, stop it on exit."""
    port = free_port()
    log = Path(log_path)
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
                                 "--host", "127.0.0.1", "--port", str(port),
                                 "--n_ctx", str(n_ctx), "--n_threads", str(threads)],
                                stdout=fh, stderr=subprocess.STDOUT, env=dict(env) if env is not None else None)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        while not _answers(base):
            if proc.poll() is not None or time.monotonic() > deadline:
                why = f"exited with {proc.returncode}" if proc.poll() is not None else f"no answer in {timeout:.0f} s"
                raise ServerStartError(f"llama.cpp server on {gguf} {why}; the end of {log}:\n"
                                       + log.read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
