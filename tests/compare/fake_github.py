"""A local fake of the GitHub REST endpoints the sticky-comment poster uses.

Speaks the real protocol: ``GET /repos/{o}/{r}/issues/{n}/comments`` with ``per_page``/``page``
and an RFC 8288 ``Link`` header (``rel="next"``, ``rel="last"``), ``POST`` to the same path,
``PATCH /repos/{o}/{r}/issues/comments/{id}``, ``GET /repos/{o}/{r}/pulls/{n}``,
``GET /repos/{o}/{r}/actions/workflows/{file}/runs`` (filters ``branch``, ``event``, ``status``,
newest first, paginated); redirects (``redirects``: a path prefix answered with a 301 or 307 to
another URL prefix, as a renamed repository or a hostile proxy would); bearer token check
(401), a read-only mode answering 403 like a fork pull request's token, JSON errors
``{"message": ..., "documentation_url": ...}``. stdlib ``http.server`` on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeGitHub:
    token: str
    repo: str = "octo/models"
    read_only: bool = False  # a fork PR's GITHUB_TOKEN in a pull_request workflow
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[int, str] = field(default_factory=dict)  # number -> head sha
    requests: list[tuple[str, str]] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    next_id: int = 1000
    # workflow file name -> runs (dicts shaped like GitHub's workflow run objects)
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ignore_event_filter: bool = False  # a broken or hostile API answering every event
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)  # prefix -> (code, url)
    login: str = "github-actions[bot]"
    url: str = ""

    def add_comment(self, pr: int, body: str, login: str = "someone") -> dict[str, Any]:
        self.next_id += 1
        c = {"id": self.next_id, "body": body, "user": {"login": login, "type": "User"},
             "html_url": f"https://github.invalid/{self.repo}/pull/{pr}#issuecomment-"
                         f"{self.next_id}"}
        self.comments.setdefault(pr, []).append(c)
        return c

    def add_run(self, workflow: str, *, event: str = "push", branch: str = "main",
                head_repo: str | None = None, conclusion: str = "success",
                created_at: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
        self.next_id += 1
        head = head_repo or self.repo
        run = {"id": self.next_id, "name": "llaso baseline", "event": event,
               "head_branch": branch, "head_sha": f"{self.next_id:040x}",
               "status": "completed", "conclusion": conclusion, "created_at": created_at,
               "path": f".github/workflows/{workflow}",
               "repository": {"full_name": self.repo},
               "head_repository": {"full_name": head, "fork": head != self.repo}}
        self.runs.setdefault(workflow, []).append(run)
        return run


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    prefix = f"/repos/{state.repo}"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str) -> None:
            self._send(status, {"message": message,
                                "documentation_url": "https://docs.github.com/rest"})

        def _authorised(self) -> bool:
            auth = self.headers.get("Authorization", "")
            state.auth_headers.append(auth)
            if auth != f"Bearer {state.token}":
                self._error(401, "Bad credentials")
                return False
            return True

        def _route(self, method: str) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            state.requests.append((method, self.path))
            if not self._authorised():
                return
            for old, (code, new) in state.redirects.items():
                if self.path.startswith(old):
                    self.send_response(code)
                    self.send_header("Location", new + self.path[len(old):])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
            if not parsed.path.startswith(prefix + "/"):
                return self._error(404, "Not Found")
            rest = parsed.path[len(prefix):]
            query = urllib.parse.parse_qs(parsed.query)
            if m := re.fullmatch(r"/issues/(\d+)/comments", rest):
                pr = int(m.group(1))
                if pr not in state.pulls:
                    return self._error(404, "Not Found")
                if method == "GET":
                    return self._list(pr, query)
                if method == "POST":
                    if state.read_only:
                        return self._error(403, "Resource not accessible by integration")
                    body = self._json_body()
                    if not isinstance(body.get("body"), str):
                        return self._error(422, "Validation Failed")
                    c = state.add_comment(pr, body["body"], login=state.login)
                    return self._send(201, c)
            if m := re.fullmatch(r"/issues/comments/(\d+)", rest):
                if method != "PATCH":
                    return self._error(405, "Method Not Allowed")
                if state.read_only:
                    return self._error(403, "Resource not accessible by integration")
                cid = int(m.group(1))
                for comments in state.comments.values():
                    for c in comments:
                        if c["id"] == cid:
                            c["body"] = self._json_body()["body"]
                            return self._send(200, c)
                return self._error(404, "Not Found")
            if (m := re.fullmatch(r"/pulls/(\d+)", rest)) and method == "GET":
                pr = int(m.group(1))
                if pr not in state.pulls:
                    return self._error(404, "Not Found")
                return self._send(200, {"number": pr, "head": {"sha": state.pulls[pr]}})
            if (m := re.fullmatch(r"/actions/workflows/([\w.-]+)/runs", rest)) and method == "GET":
                return self._runs(m.group(1), query)
            return self._error(404, "Not Found")

        def _runs(self, workflow: str, query: dict[str, list[str]]) -> None:
            if workflow not in state.runs:
                return self._error(404, "Not Found")
            runs = sorted(state.runs[workflow], key=lambda r: r["created_at"], reverse=True)
            want = {k: v[0] for k, v in query.items()}
            if "branch" in want:
                runs = [r for r in runs if r["head_branch"] == want["branch"]]
            if "event" in want and not state.ignore_event_filter:
                runs = [r for r in runs if r["event"] == want["event"]]
            if "status" in want:
                runs = [r for r in runs if want["status"] in (r["status"], r["conclusion"])]
            per_page = min(100, int(want.get("per_page", "30")))
            page = int(want.get("page", "1"))
            chunk = runs[(page - 1) * per_page: page * per_page]
            self._send(200, {"total_count": len(runs), "workflow_runs": chunk})

        def _json_body(self) -> dict[str, Any]:
            n = int(self.headers.get("Content-Length", "0"))
            return json.loads(self.rfile.read(n) or b"{}")

        def _list(self, pr: int, query: dict[str, list[str]]) -> None:
            per_page = min(100, int(query.get("per_page", ["30"])[0]))
            page = int(query.get("page", ["1"])[0])
            items = state.comments.get(pr, [])
            last = max(1, -(-len(items) // per_page))
            chunk = items[(page - 1) * per_page: page * per_page]
            links = []
            base = f"{state.url}{prefix}/issues/{pr}/comments"
            if page < last:
                links.append(f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"')
                links.append(f'<{base}?per_page={per_page}&page={last}>; rel="last"')
            if page > 1:
                links.append(f'<{base}?per_page={per_page}&page=1>; rel="first"')
            self._send(200, chunk, {"Link": ", ".join(links)} if links else None)

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

    return Handler


@contextmanager
def serve(state: FakeGitHub) -> Iterator[FakeGitHub]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
