"""A real headless Chromium driven over the DevTools protocol (a websocket), for tests of pages we write.

No browser-automation dependency: Chromium is started with `--remote-debugging-port=0`, prints the port it
chose, and the page target is driven with a few protocol commands (navigate, evaluate, screenshot) while
console errors and uncaught exceptions are collected. `chromium_binary()` is None when no browser is
installed, so a test can skip and say why (CI installs Debian's `chromium` package).
"""

from __future__ import annotations

import base64
import json
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_binary() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Page:
    """The one page of a headless Chromium; use as a context manager."""

    def __init__(self, binary: str, *, width: int = 1200, height: int = 900, timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        self.errors: list[str] = []
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        self._process = subprocess.Popen(
            [binary, "--headless=new", "--disable-gpu", "--no-sandbox", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
             f"--user-data-dir={self._profile.name}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._drain, daemon=True).start()
        port = self._devtools_port()
        self._ws = connect(self._page_socket(port), max_size=None, open_timeout=timeout_s)
        self._next_id = 0
        self._events: list[dict] = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def _drain(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            self._lines.put(line)

    def _devtools_port(self) -> int:
        deadline = time.monotonic() + self.timeout_s
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.5)
            except queue.Empty:
                if self._process.poll() is not None:
                    break
                continue
            seen.append(line)
            found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if found:
                return int(found.group(1))
        raise RuntimeError("chromium did not start its DevTools server:\n" + "".join(seen[-20:]))

    def _page_socket(self, port: int) -> str:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
                pages = [t for t in json.load(answer) if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.1)
        raise RuntimeError("chromium opened no page target")

    # -- protocol --------------------------------------------------------------------------------------

    def _receive(self, timeout: float) -> dict:
        message = json.loads(self._ws.recv(timeout=timeout))
        if "method" in message:
            self._note(message)
            self._events.append(message)
        return message

    def _note(self, event: dict) -> None:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(f"exception: {details.get('text')} {details.get('exception', {}).get('description')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in
                                                      params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")

    def call(self, method: str, **params: object) -> dict:
        self._next_id += 1
        wanted = self._next_id
        self._ws.send(json.dumps({"id": wanted, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout_s
        while True:
            message = self._receive(max(0.1, deadline - time.monotonic()))
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def wait_for(self, method: str) -> dict:
        for event in self._events:
            if event["method"] == method:
                self._events.remove(event)
                return event
        deadline = time.monotonic() + self.timeout_s
        while True:
            message = self._receive(max(0.1, deadline - time.monotonic()))
            if message.get("method") == method:
                self._events.remove(message)
                return message

    # -- what tests use --------------------------------------------------------------------------------

    def open(self, path: Path) -> None:
        """Load a local file and wait for its load event (every image decoded or failed by then)."""
        self._events.clear()
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluation failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, target: Path) -> Path:
        """The whole page (beyond the window) as PNG."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)["data"]
        target.write_bytes(base64.b64decode(data))
        return target

    def close(self) -> None:
        try:
            self._ws.close()
        finally:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._profile.cleanup()

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
