"""Fixtures for the report tests: realistic run folders, and headless Chromium driven over the DevTools protocol.

The browser is Debian's ``chromium`` (installed with apt-get once per session when missing). It is driven
with a small standard-library WebSocket client speaking the Chrome DevTools Protocol, so the tests need no
extra Python package.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from report_runs import write_attribution, write_eval_pair, write_grpo_train, write_ppo_train  # noqa: E402


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """A demo folder holding every kind of run: sft/{before,after}, grpo/train, ppo, attribution."""
    root = tmp_path_factory.mktemp("runs") / "demo"
    write_eval_pair(root / "sft")
    write_grpo_train(root / "grpo" / "train")
    write_ppo_train(root / "ppo")
    write_attribution(root / "attribution")
    return root


# ----------------------------------------------------------------------------------------------- browser
def _chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium binary, installed with apt-get when missing (fails, with the reason, if it cannot be)."""
    path = _chromium_path()
    if path:
        return path
    cmd = "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium"
    try:
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.fail(f"chromium is missing and `{cmd}` could not run ({e}); install chromium (Debian package "
                    "'chromium') and rerun the report tests")
    path = _chromium_path()
    if not path:
        pytest.fail(f"chromium is missing and `{cmd}` failed (exit {r.returncode}):\n{r.stderr[-2000:]}\n"
                    "Install chromium (Debian package 'chromium', needs root and the Debian mirror) and rerun.")
    return path


class WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol: masked text frames out, unmasked frames in."""

    def __init__(self, url: str, timeout: float = 30.0):
        m = re.match(r"ws://([^/:]+):(\d+)(/.*)", url)
        assert m, url
        host, port, path = m.group(1), int(m.group(2)), m.group(3)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the WebSocket handshake")
            head += chunk
        status, _, self._buf = head.partition(b"\r\n\r\n")
        if b" 101 " not in status.split(b"\r\n")[0]:
            raise ConnectionError(f"WebSocket handshake refused: {status[:200]!r}")

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("DevTools connection closed")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def send(self, text: str) -> None:
        data = text.encode()
        head = bytearray([0x81])
        n = len(data)
        if n < 126:
            head.append(0x80 | n)
        elif n < 1 << 16:
            head.append(0x80 | 126)
            head += struct.pack(">H", n)
        else:
            head.append(0x80 | 127)
            head += struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(bytes(head) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self) -> str:
        parts = []
        while True:
            b0, b1 = self._read(2)
            op, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if op == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            if op == 0x9:  # ping
                continue
            if op in (0x0, 0x1, 0x2):
                parts.append(payload)
                if b0 & 0x80:
                    return b"".join(parts).decode()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Page:
    """One Chromium tab: send CDP commands, keep every event (console calls, exceptions, load)."""

    def __init__(self, ws: WebSocket):
        self.ws = ws
        self.events: list[dict] = []
        self._id = 0

    def send(self, method: str, timeout: float = 30.0, **params):
        self._id += 1
        my = self._id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError(f"CDP {method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(f"CDP {method}: no answer in {timeout}s")

    def wait_event(self, method: str, timeout: float = 30.0) -> dict:
        for e in self.events:
            if e["method"] == method:
                return e
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return msg
        raise TimeoutError(f"no {method} event in {timeout}s")

    def eval(self, expr: str):
        r = self.send("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise AssertionError(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors/warnings-as-errors and uncaught exceptions seen so far."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append(f"exception: {d.get('text')} {d.get('exception', {}).get('description', '')}")
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console." + p["type"] + ": " + " ".join(str(a.get("value", a.get("description")))
                                                                     for a in p.get("args", [])))
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def requests(self) -> list[str]:
        """Every URL the page asked for (the page itself included)."""
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def wait_for(self, expr: str, timeout: float = 10.0):
        """Poll a JavaScript expression until it is truthy; return its value."""
        t0 = time.monotonic()
        while True:
            v = self.eval(expr)
            if v or time.monotonic() - t0 > timeout:
                return v
            time.sleep(0.05)

    def click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            extra = {"button": "left", "clickCount": 1} if kind != "mouseMoved" else {}
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, **extra)


@pytest.fixture(scope="session")
def browser(chromium, tmp_path_factory):
    """A headless Chromium; yields a function opening a URL in a fresh tab and returning a :class:`Page`."""
    profile = tempfile.mkdtemp(prefix="whygym-chromium-")
    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port = None
    lines = []
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < 60:
            line = proc.stderr.readline()
            if not line:
                if proc.poll() is not None:
                    break
                continue
            lines.append(line)
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            pytest.fail("headless chromium did not start (no 'DevTools listening' line):\n" + "".join(lines[-30:]))
        # keep draining stderr so that chromium never blocks on a full pipe
        import threading
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
        pages: list[Page] = []

        def open_page(url: str, width: int = 1400, height: int = 900) -> Page:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
            with urllib.request.urlopen(req, timeout=30) as r:
                target = json.loads(r.read())
            page = Page(WebSocket(target["webSocketDebuggerUrl"]))
            pages.append(page)
            for dom in ("Runtime", "Log", "Page", "Network"):
                page.send(f"{dom}.enable")
            page.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                      mobile=False)
            page.send("Page.navigate", url=url)
            page.wait_event("Page.loadEventFired", timeout=60)
            return page

        yield open_page
        for p in pages:
            p.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)
