"""Fixtures for the report tests: realistic run folders, and headless Chromium driven over the DevTools protocol.

The browser is Debian's ``chromium`` (installed with apt-get once per session when missing). It is driven
with a small standard-library WebSocket client speaking the Chrome DevTools Protocol, so the tests need no
extra Python package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import random
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

from whygym.cli import main

BENCH = "gen:ATE,PN:6:0"


# ------------------------------------------------------------------------------------------- run folders
def _mock_model(gold_by_prompt: dict[str, dict], right_per_100: int):
    """A model that is right for about ``right_per_100`` prompts in 100, wrong or unparseable otherwise."""
    def respond(prompt: str) -> str:
        g = gold_by_prompt[prompt]
        h = int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 100
        if h < right_per_100:
            label = g.get("label") or "yes"
            return json.dumps({"ANSWER": label.capitalize(), "PROB": f"{g['prob']:.4f}"})
        if h >= 88:
            return "Let me think.\nThe effect is unclear, so I cannot give a number."
        return json.dumps({"ANSWER": "No", "PROB": "0.1234"})
    return respond


def write_eval_pair(root: Path) -> None:
    """``root/before`` and ``root/after``: real ``run_eval`` runs of a scripted model that improves."""
    from whygym.eval import EvalConfig, load_items, run_eval
    from whygym.models.mock import MockBackend

    gold = {it.prompt: it.gold for it in load_items(BENCH, None, None)}
    for side, right in (("before", 30), ("after", 75)):
        run_eval(EvalConfig(model="mock:scripted", benchmarks=[BENCH], out=str(root / side)),
                 backend=MockBackend(_mock_model(gold, right), name=f"scripted-{side}"),
                 argv=["whygym", "eval", "--model", f"runs/{side}", "--benchmark", BENCH, "--out", str(root / side)],
                 progress=False, echo=None)


def write_grpo_train(out: Path, steps: int = 24) -> None:
    """A GRPO training folder as :func:`whygym.train.trainers.train` writes it (TRL's log keys)."""
    rnd = random.Random(1)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in range(1, steps + 1):
        reward = 0.15 + 0.5 * (1 - math.exp(-s / 8)) + rnd.gauss(0, 0.03)
        rows.append({"step": s, "wall_s": round(2.1 * s, 3), "step_time_s": 2.1, "loss": round(0.02 * math.exp(-s / 10)
                     + rnd.gauss(0, 0.002), 6), "grad_norm": 0.5, "learning_rate": 1e-5,
                     "rewards/whygym_reward/mean": reward, "reward": reward, "reward_std": 0.2,
                     "frac_reward_zero_std": max(0.0, 0.8 - s / 30), "zero_signal_frac": max(0.0, 0.8 - s / 30),
                     "entropy": 2.0, "epoch": s / steps})
    rows.append({"step": steps, "wall_s": 51.0, "train_runtime": 50.2, "train_loss": 0.01, "epoch": 1.0})
    (out / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = {"method": "grpo", "config": {"model": "default", "steps": steps, "num_generations": 4, "lr": 1e-5},
               "data": {"rows": 64}, "steps": steps, "resumed_from": None, "stopped_by_budget": False, "wall_s": 51.3,
               "train_runtime_s": 50.2, "mean_step_s": 2.1, "first_loss": rows[0]["loss"],
               "final_loss": rows[steps - 1]["loss"], "final_dir": str(out / "final"), "device": "cpu",
               "versions": {"torch": "2.13.0", "trl": "1.16.0"},
               "command": "whygym train grpo --config configs/grpo.yaml --out runs/grpo",
               "zero_signal_frac_mean": 0.42, "reward_first": rows[0]["reward"], "reward_last": rows[steps - 1]["reward"]}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2))


def write_ppo_train(out: Path, steps: int = 16) -> None:
    """A PPO folder with :data:`whygym.train.ppo.LOG_KEYS` rows (no ``loss``, no zero-signal fraction)."""
    from whygym.train.ppo import LOG_KEYS

    rnd = random.Random(2)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in range(1, steps + 1):
        vals = {k: 0.0 for k in LOG_KEYS}
        vals.update(step=s, reward=0.1 + 0.03 * s + rnd.gauss(0, 0.02), policy_loss=-0.04 + rnd.gauss(0, 0.01),
                    value_loss=0.9 * math.exp(-s / 6), kl_coef=0.05, lr=1e-5, seconds=3.0)
        rows.append({k: vals[k] for k in LOG_KEYS})
    (out / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / "train_summary.json").write_text(json.dumps(
        {"steps": steps, "start_step": 0, "steps_run": steps, "resumed_from": None, "reward_first": 0.14,
         "reward_last": 0.55, "kl_coef": 0.05, "trainable_params": 1000, "seconds": 48.0, "device": "cpu",
         "config": {"lr": 1e-5, "steps": steps}}, indent=1))


def layers_section(n_layers: int = 4, n_items: int = 3) -> dict:
    """A ``layers`` section in the shape :func:`whygym.attribution.layers.layer_attribution` returns."""
    rnd = random.Random(3)

    def ci(mu):
        per = [mu + rnd.gauss(0, 0.3) for _ in range(n_items)]
        p = sum(per) / n_items
        return {"point": p, "low": p - 0.4, "high": p + 0.4, "n": n_items, "per_item": per}

    rows = []
    for i in range(n_layers):
        for kind, mod in (("attention", "self_attn"), ("mlp", "mlp")):
            rows.append({"module": f"model.layers.{i}.{mod}", "layer": i, "kind": kind,
                         "mean_ablation": ci(-2.5 / (i + 1) if kind == "mlp" else -0.5 * i),
                         "patching": ci(-1.0 + 0.2 * i), "recovered": ci(0.3)})
    ranking = {m: [r["module"] for r in sorted(rows, key=lambda r: -abs(r[m]["point"]))]
               for m in ("mean_ablation", "patching")}
    return {"modules": [r["module"] for r in rows], "methods": ["mean_ablation", "patching"],
            "baseline": {"clean_logp": [-3.1, -2.7, -4.0], "counterfactual_logp": [-5.0, -4.2, -6.1],
                         "patch_alignment": "whole sequence when token lengths match"},
            "rows": rows, "ranking": ranking, "n_items": n_items, "counterfactual": {"names": "fake"},
            "model": {"name": "tiny-llama"}, "benchmark": "gen:ATE:4:0",
            "argv": ["attribute", "--layers", "--model", "default", "--out", "runs/attr"], "wall_seconds": 3.0}


def write_attribution(out: Path) -> None:
    """Real ``whygym attribute`` runs (scripted model: prompt components; mock: discovery) plus a layers section."""
    import sys

    saved = sys.argv
    try:  # the attribute command records sys.argv: make it the command line a user would have typed
        for argv in (["attribute", "--model", "scripted:data", "--benchmark", "gen:ATE,NDE:4:0", "--components",
                      "names,data", "--out", str(out), "--n-boot", "100", "--quiet"],
                     ["attribute", "--model", "mock:text=a -> b", "--discovery", "pairwise-uniform", "--trials", "3",
                      "--rows", "5", "--out", str(out), "--n-boot", "50", "--quiet"]):
            sys.argv = ["whygym"] + argv
            assert main(argv) == 0
    finally:
        sys.argv = saved
    doc = json.loads((out / "attribution.json").read_text())
    doc["layers"] = layers_section()
    (out / "attribution.json").write_text(json.dumps(doc, indent=2))


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
            for dom in ("Runtime", "Log", "Page"):
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
