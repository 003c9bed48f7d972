"""A loopback Hugging Face Hub stand-in: enough of the HTTP API for the real `huggingface_hub` client.

Implements what huggingface_hub 2.4 calls for create_repo, create_commit (preupload answering "regular"
so contents arrive inline as base64 in the NDJSON commit), model_info (siblings with size, blobId and,
for *.safetensors, LFS sha256 as the real Hub reports), the tree listing, and HEAD/GET resolve with
ETag, X-Repo-Commit, Content-Length and Range support. `requests` logs every request. 127.0.0.1 only.

Faults, each injected at the HTTP boundary (patterns match 'METHOD /path'):
- `fail(pattern, status, times, retry_after=)`: answer 429/5xx (429 carries `Retry-After`, "0" unless given);
- `delay(pattern, seconds, times)`: answer only after `seconds` (a slow hub; past the client's timeout);
- `drop(pattern, after_bytes, times)`: announce the whole file, send `after_bytes` of it, close the connection;
- `served_instead[name or 'ns/repo/name'] = data`: other bytes for a file (truncated, tampered), metadata unchanged;
- `delete_revision` / `rewrite_revision`: a committed revision vanishes, or its files change under the same id;
- `HubServer.down()` / `up()`: stop listening altogether (connections refused), then listen again on the same port.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlparse

from standins.loopback import LoopbackServer

GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # oid -> {path: bytes}
    main: str = ""


class HubState:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.failures: list[list] = []  # [regex, status, remaining, retry_after]
        self.delays: list[list] = []  # [regex, seconds, remaining]
        self.drops: list[list] = []  # [regex, bytes sent before the connection is closed, remaining]
        self.counter = 0
        # "name" or "repo/name" -> bytes served by resolve (metadata unchanged)
        self.served_instead: dict[str, bytes] = {}
        self.connections: set[socket.socket] = set()  # open client connections (kept alive between requests)

    def fail(self, pattern: str, status: int = 429, times: int = 1, retry_after: str | None = None) -> None:
        """The next `times` requests whose 'METHOD path' matches `pattern` get `status`."""
        with self.lock:
            self.failures.append([re.compile(pattern), status, times, retry_after])

    def delay(self, pattern: str, seconds: float, times: int = 1) -> None:
        """The next `times` matching requests are answered only after `seconds`."""
        with self.lock:
            self.delays.append([re.compile(pattern), seconds, times])

    def drop(self, pattern: str, after_bytes: int, times: int = 1) -> None:
        """The next `times` matching file downloads stop after `after_bytes` bytes of the body (connection closed)."""
        with self.lock:
            self.drops.append([re.compile(pattern), after_bytes, times])

    @staticmethod
    def _take(rules: list[list], line: str) -> list | None:
        """The first rule with tries left that matches `line`, its count taken (call with the lock held)."""
        for rule in rules:
            if rule[2] > 0 and rule[0].search(line):
                rule[2] -= 1
                return rule
        return None

    def left(self, kind: str) -> int:
        """Injections of a kind ("fail", "delay", "drop") not yet used: 0 once every injected fault was served."""
        rules = {"fail": self.failures, "delay": self.delays, "drop": self.drops}[kind]
        with self.lock:
            return sum(rule[2] for rule in rules)

    def delete_revision(self, repo_id: str, oid: str) -> None:
        """The revision disappears (a force-push or a deleted repository): model_info and resolve answer 404."""
        with self.lock:
            del self.repos[repo_id].commits[oid]

    def rewrite_revision(self, repo_id: str, oid: str, files: dict[str, bytes]) -> None:
        """The revision's files change under the same id; metadata follows (sizes, sha256 of the new bytes)."""
        with self.lock:
            self.repos[repo_id].commits[oid] = {**self.repos[repo_id].commits[oid], **files}

    def commit(self, repo_id: str, files: dict[str, bytes]) -> str:
        with self.lock:
            self.counter += 1
            repo = self.repos[repo_id]
            oid = hashlib.sha1(f"{repo_id}:{self.counter}:{repo.main}".encode()).hexdigest()
            repo.commits[oid] = files
            repo.main = oid
            return oid


class HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: HubState
    base_url: str

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def setup(self) -> None:
        super().setup()
        with self.state.lock:
            self.state.connections.add(self.connection)

    def finish(self) -> None:
        with self.state.lock:
            self.state.connections.discard(self.connection)
        super().finish()

    # -- plumbing ----------------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _error(self, status: int, code: str, message: str) -> None:
        self._json(status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message})

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _injected_failure(self) -> bool:
        line = f"{self.command} {urlparse(self.path).path}"
        with self.state.lock:
            self.state.requests.append((self.command, self.path))
            slow = self.state._take(self.state.delays, line)
            rule = self.state._take(self.state.failures, line)
        if slow is not None:
            time.sleep(slow[1])
        if rule is None:
            return False
        status, retry_after = rule[1], rule[3]
        self._body()
        if retry_after is None and status == 429:
            retry_after = "0"
        headers = None if retry_after is None else {"Retry-After": retry_after}
        self._json(status, {"error": f"injected {status}"}, headers)
        return True

    def _revision(self, repo_id: str, rev: str) -> tuple[str, dict[str, bytes]] | None:
        repo = self.state.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository {repo_id} not found")
            return None
        oid = repo.main if rev == "main" else rev
        if oid not in repo.commits:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            return None
        return oid, repo.commits[oid]

    @staticmethod
    def _entry(path: str, data: bytes) -> dict:
        entry: dict = {"size": len(data), "oid": git_blob_id(data)}
        if path.endswith(".safetensors"):
            sha = hashlib.sha256(data).hexdigest()
            entry["lfs"] = {"size": len(data), "sha256": sha, "oid": sha, "pointerSize": 134}
        return entry

    # -- routes ------------------------------------------------------------------------------------------

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        if self._injected_failure():
            return
        path = unquote(urlparse(self.path).path)
        if path == "/api/repos/create":
            payload = json.loads(self._body() or b"{}")
            repo_id = f"{payload.get('organization') or 'user'}/{payload['name']}"
            with self.state.lock:
                exists = repo_id in self.state.repos
                if not exists:
                    self.state.repos[repo_id] = Repo()
            if exists:
                self._json(409, {"error": "You already created this model repo", "url": f"{self.base_url}/{repo_id}"})
                return
            self.state.commit(repo_id, {".gitattributes": GITATTRIBUTES})
            self._json(200, {"url": f"{self.base_url}/{repo_id}", "name": repo_id})
            return
        match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(preupload|commit)/(.+)", path)
        if not match or match.group(1) not in self.state.repos:
            self._body()
            self._error(404, "RepoNotFound", "Repository not found")
            return
        repo_id, action = match.group(1), match.group(2)
        body = self._body()
        if action == "preupload":
            files = json.loads(body)["files"]
            answer = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
            self._json(200, {"files": answer, "commitOid": self.state.repos[repo_id].main})
            return
        files = dict(self.state.repos[repo_id].commits[self.state.repos[repo_id].main])
        for line in body.splitlines():
            item = json.loads(line)
            if item["key"] == "file":
                files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            elif item["key"] == "deletedFile":
                files.pop(item["value"]["path"], None)
            elif item["key"] != "header":
                self._error(400, "BadRequest", f"unsupported commit operation {item['key']}")
                return
        oid = self.state.commit(repo_id, files)
        self._json(200, {"commitUrl": f"{self.base_url}/{repo_id}/commit/{oid}", "commitOid": oid})

    def do_GET(self) -> None:  # noqa: N802
        if self._injected_failure():
            return
        url = urlparse(self.path)
        path = unquote(url.path)
        query = parse_qs(url.query)
        info = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/(.+))?", path)
        if info:
            found = self._revision(info.group(1), info.group(2) or "main")
            if found:
                oid, files = found
                blobs = query.get("blobs", ["false"])[0].lower() == "true"
                siblings = []
                for name, data in sorted(files.items()):
                    sibling: dict = {"rfilename": name}
                    if blobs:
                        entry = self._entry(name, data)
                        sibling.update(size=entry["size"], blobId=entry["oid"])
                        if "lfs" in entry:
                            lfs = entry["lfs"]
                            sibling["lfs"] = {"size": lfs["size"], "sha256": lfs["sha256"], "pointerSize": 134}
                    siblings.append(sibling)
                self._json(200, {"id": info.group(1), "modelId": info.group(1), "sha": oid, "siblings": siblings})
            return
        tree = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(/.*)?", path)
        if tree:
            found = self._revision(tree.group(1), tree.group(2))
            if found:
                listing = []
                for name, data in sorted(found[1].items()):
                    entry = self._entry(name, data)
                    lfs = entry.get("lfs")
                    item = {"type": "file", "oid": entry["oid"], "size": entry["size"], "path": name}
                    if lfs:
                        item["lfs"] = {"oid": lfs["oid"], "size": lfs["size"], "pointerSize": 134}
                    listing.append(item)
                self._json(200, listing)
            return
        self._resolve(path)

    def do_HEAD(self) -> None:  # noqa: N802
        if self._injected_failure():
            return
        self._resolve(unquote(urlparse(self.path).path))

    def _resolve(self, path: str) -> None:
        match = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if not match:
            self._error(404, "EntryNotFound", f"no route {path}")
            return
        found = self._revision(match.group(1), match.group(2))
        if not found:
            return
        oid, files = found
        name = match.group(3)
        if name not in files:
            self._send(404, b"", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": oid})
            return
        entry = self._entry(name, files[name])
        instead = self.state.served_instead
        data = instead.get(f"{match.group(1)}/{name}", instead.get(name, files[name]))
        etag = entry["lfs"]["sha256"] if "lfs" in entry else entry["oid"]
        headers = {"ETag": f'"{etag}"', "X-Repo-Commit": oid, "Accept-Ranges": "bytes"}
        start = 0
        ranged = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if ranged and self.command == "GET":
            start = min(int(ranged.group(1)), len(data))
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        headers["Content-Length"] = str(len(data) if self.command == "HEAD" else len(body))
        with self.state.lock:
            cut = self.state._take(self.state.drops, f"{self.command} {path}") if self.command == "GET" else None
        if cut is not None and cut[1] < len(body):
            self.send_response(206 if ranged else 200)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body[: cut[1]])
            self.wfile.flush()
            self.close_connection = True  # the rest never comes: the client sees the body end early
            return
        self._send(206 if ranged and self.command == "GET" else 200, body, headers)


class HubServer:
    """Run the stand-in on 127.0.0.1 in a background thread (a context manager)."""

    def __init__(self) -> None:
        self.state = HubState()
        self._handler = type("Handler", (HubHandler,), {"state": self.state})
        self._listen(0)
        self.url = f"http://127.0.0.1:{self.port}"
        self._handler.base_url = self.url

    def _listen(self, port: int) -> None:
        self._loop = LoopbackServer(self._handler, port)
        self.port = self._loop.port

    def __enter__(self) -> HubServer:
        self._loop.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    @property
    def is_up(self) -> bool:
        return self._loop.running

    def down(self) -> None:
        """Stop listening: new connections are refused until `up()` (the whole hub unreachable)."""
        self._loop.stop()
        with self.state.lock:  # kept-alive connections would otherwise go on being served
            open_connections = list(self.state.connections)
        for conn in open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def up(self) -> None:
        """Listen again on the same port, with the same repositories."""
        if not self.is_up:
            self._listen(self.port)
            self._loop.start()

    def delay(self, pattern: str, seconds: float, times: int = 1) -> None:
        self.state.delay(pattern, seconds, times)

    def drop(self, pattern: str, after_bytes: int, times: int = 1) -> None:
        self.state.drop(pattern, after_bytes, times)

    def fail(self, pattern: str, status: int = 429, times: int = 1, retry_after: str | None = None) -> None:
        self.state.fail(pattern, status, times, retry_after)

    @property
    def requests(self) -> list[tuple[str, str]]:
        return list(self.state.requests)
