"""A loopback server standing in for the Hugging Face hub: it serves a folder's files the way the hub's
``/{repo}/resolve/{revision}/{file}`` endpoint does (HEAD and GET, with the commit and ETag headers
huggingface_hub reads), records every request, and can be told to fail a file."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FakeHub:
    def __init__(self, folder: str | Path, repo: str, revision: str):
        self.folder, self.repo, self.revision = Path(folder), repo, revision
        self.requests: list[tuple[str, str]] = []
        self.fail: dict[str, int] = {}  # file -> HTTP status to answer instead
        self.corrupt: set[str] = set()  # files served with one byte changed
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, body: bool):
                hub.requests.append((self.command, self.path))
                prefix = f"/{hub.repo}/resolve/{hub.revision}/"
                name = self.path.split("?")[0][len(prefix) :] if self.path.startswith(prefix) else None
                path = hub.folder / name if name else None
                if name in hub.fail:
                    self.send_response(hub.fail[name])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if path is None or not path.is_file():
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = path.read_bytes()
                if name in hub.corrupt:
                    data = bytes([data[0] ^ 1]) + data[1:]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("X-Repo-Commit", hub.revision)
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_HEAD(self):  # noqa: N802
                self._answer(body=False)

            def do_GET(self):  # noqa: N802
                self._answer(body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
