"""Post or update the one sticky pull-request comment that carries a comparison report.

Used by ``.github/workflows/llaso-comment.yml`` (a ``workflow_run`` job that never runs pull
request code)::

    python -m llaso_pytest.github --repo OWNER/NAME --pr 12 --body-file comment.md \
        [--expect-head-sha SHA] [--author 'github-actions[bot]']

The token comes from ``GITHUB_TOKEN`` (or ``GH_TOKEN``) and is never printed. The REST calls
are the documented ones: list issue comments (``per_page=100``, following ``Link: rel="next"``),
find the comment holding the hidden marker, ``PATCH`` it, or ``POST`` a new one. A 403 is
explained (fork pull requests get a read-only token in ``pull_request`` workflows).
Standard library only (``urllib``), so the posting job installs nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["GitHubAPI", "GitHubError", "HeadMovedError", "PostResult", "StickyCommenter", "main"]

MARKER = "<!-- llaso-pytest-report -->"
COMMENT_LIMIT = 65_536
DEFAULT_API = "https://api.github.com"
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


class GitHubError(RuntimeError):
    """A GitHub API call failed; the message says which call, why, and what to do."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class HeadMovedError(GitHubError):
    """The pull request's head is no longer the evaluated commit (a newer push): nothing to
    post, and nothing wrong either; the newer push's evaluation comments."""


@dataclass(frozen=True)
class PostResult:
    action: str  # "created" | "updated" | "unchanged"
    comment_id: int
    url: str | None


def under_api(url: str, api_url: str) -> bool:
    """Whether ``url`` is on the API's origin (scheme, host and port) and under its path."""
    target, api = urllib.parse.urlsplit(url), urllib.parse.urlsplit(api_url.rstrip("/"))
    try:
        same_origin = ((target.scheme.lower(), (target.hostname or "").lower(), target.port)
                       == (api.scheme.lower(), (api.hostname or "").lower(), api.port))
    except ValueError:  # a malformed port
        return False
    return (same_origin and not target.username and not target.password
            and (target.path + "/").startswith(api.path + "/"))


class _ApiOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to a URL under the API; anything else raises
    :class:`GitHubError` before a request (and its ``Authorization`` header) is sent."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url.rstrip("/")

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        newurl = urllib.parse.urljoin(req.full_url, newurl)
        if not under_api(newurl, self.api_url):
            where = urllib.parse.urlsplit(newurl)
            host = where.netloc.rpartition("@")[2]  # never echo userinfo
            raise GitHubError(
                f"{req.get_method()} {urllib.parse.urlsplit(req.full_url).path}: GitHub "
                f"answered {code} redirecting to {where.scheme}://{host}{where.path}, "
                f"outside {self.api_url}: refused (the token is never sent to another origin; "
                "check --api-url / GITHUB_API_URL)", status=code)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class GitHubAPI:
    """Authenticated JSON calls to one repository's REST API: the token goes only to
    ``api_url``'s origin, errors name the call and say what to do."""

    #: what a 403 most likely means for this client's calls (appended to the error)
    forbidden_hint = ""

    def __init__(self, *, repo: str, token: str, api_url: str = DEFAULT_API,
                 timeout: float = 30.0, user_agent: str = "llaso-pytest") -> None:
        if not _REPO.fullmatch(repo):
            raise ValueError(f"--repo {repo!r}: expected OWNER/NAME")
        if not token:
            raise ValueError("no GitHub token: set GITHUB_TOKEN (or GH_TOKEN) in the environment")
        self.repo = repo
        self._token = token
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.user_agent = user_agent
        # Redirects are followed only within the API (a renamed repository answers 301 to
        # its new path); one to another origin is an error, so the token never leaves it.
        self._opener = urllib.request.build_opener(_ApiOnlyRedirects(self.api_url))

    def __repr__(self) -> str:  # never show the token
        return f"{type(self).__name__}(repo={self.repo!r}, api_url={self.api_url!r})"

    # -- HTTP ---------------------------------------------------------------------------
    def _request(self, method: str, url: str, body: dict[str, Any] | None = None
                 ) -> tuple[Any, dict[str, str]]:
        if not under_api(url, self.api_url):
            raise GitHubError(f"refusing to follow {url}: not under {self.api_url}")
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("X-GitHub-Api-Version", "2022-11-28")
        req.add_header("User-Agent", self.user_agent)
        req.add_header("Authorization", f"Bearer {self._token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        what = f"{method} {urllib.parse.urlsplit(url).path}"
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                raw = resp.read()
                headers = {k.lower(): v for k, v in resp.headers.items()}
        except urllib.error.HTTPError as exc:
            raise self._explain(what, exc) from None
        except urllib.error.URLError as exc:
            raise GitHubError(f"{what}: cannot reach {self.api_url}: {exc.reason}") from None
        try:
            payload = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            raise GitHubError(f"{what}: the response is not JSON") from None
        return payload, headers

    def _explain(self, what: str, exc: urllib.error.HTTPError) -> GitHubError:
        try:
            detail = json.loads(exc.read() or b"{}").get("message", "")
        except (json.JSONDecodeError, AttributeError, OSError):
            detail = ""
        status = exc.code
        msg = f"{what}: GitHub answered {status}" + (f" ({detail})" if detail else "")
        if status == 403 and exc.headers.get("X-RateLimit-Remaining") == "0":
            msg += ". The API rate limit is exhausted; retry after it resets."
        elif status == 403:
            msg += self.forbidden_hint
        elif status == 401:
            msg += ". The token is missing, expired or invalid."
        elif status == 404:
            msg += (". The repository or pull request does not exist, or the token cannot see "
                    "it.")
        return GitHubError(msg, status=status)

    def _url(self, path: str, **query: Any) -> str:
        q = f"?{urllib.parse.urlencode(query)}" if query else ""
        return f"{self.api_url}/repos/{self.repo}/{path}{q}"


class StickyCommenter(GitHubAPI):
    """Find-or-create-then-update one comment per pull request, identified by ``marker``."""

    forbidden_hint = (
        ". The token may not write to pull requests of this repository. A pull request "
        "from a fork gets a read-only GITHUB_TOKEN in `pull_request` workflows: post the "
        "comment from a separate `workflow_run` workflow with `permissions: "
        "pull-requests: write` (see docs/github-actions.md), never from the job that "
        "runs the pull request's code."
    )

    def __init__(self, *, repo: str, token: str, api_url: str = DEFAULT_API,
                 marker: str = MARKER, timeout: float = 30.0,
                 user_agent: str = "llaso-pytest-sticky-comment") -> None:
        super().__init__(repo=repo, token=token, api_url=api_url, timeout=timeout,
                         user_agent=user_agent)
        self.marker = marker

    # -- API ------------------------------------------------------------------------------
    def comments(self, pr: int) -> Iterator[dict[str, Any]]:
        """Every comment of the pull request (issue comments), following pagination."""
        url: str | None = self._url(f"issues/{pr}/comments", per_page=100)
        pages = 0
        while url:
            payload, headers = self._request("GET", url)
            if not isinstance(payload, list):
                raise GitHubError(f"GET comments of #{pr}: expected a JSON list")
            yield from payload
            pages += 1
            if pages > 1000:
                raise GitHubError(f"GET comments of #{pr}: more than 1000 pages; giving up")
            match = _LINK_NEXT.search(headers.get("link", ""))
            url = match.group(1) if match else None

    def find(self, pr: int, *, author: str | None = None) -> dict[str, Any] | None:
        """The newest comment holding the marker (by ``author`` when given)."""
        found = None
        for comment in self.comments(pr):
            body = comment.get("body") or ""
            login = (comment.get("user") or {}).get("login")
            if self.marker in body and (author is None or login == author):
                found = comment
        return found

    def head_sha(self, pr: int) -> str:
        payload, _ = self._request("GET", self._url(f"pulls/{pr}"))
        return str(((payload or {}).get("head") or {}).get("sha", ""))

    def post(self, pr: int, body: str, *, author: str | None = None,
             expect_head_sha: str | None = None) -> PostResult:
        """Update the marked comment if there is one, else create it."""
        if self.marker not in body:
            body = f"{self.marker}\n{body}"
        if len(body) > COMMENT_LIMIT:
            raise GitHubError(f"comment body has {len(body)} characters; GitHub accepts at most "
                              f"{COMMENT_LIMIT} (render it with llaso compare --format md)")
        if expect_head_sha is not None:
            actual = self.head_sha(pr)
            if actual != expect_head_sha:
                raise HeadMovedError(
                    f"pull request #{pr} is at {actual[:12] or '?'}, not at the evaluated commit "
                    f"{expect_head_sha[:12]}: not commenting (a newer push will comment)")
        existing = self.find(pr, author=author)
        if existing is None:
            payload, _ = self._request("POST", self._url(f"issues/{pr}/comments"), {"body": body})
            return PostResult("created", int(payload["id"]), payload.get("html_url"))
        if existing.get("body") == body:
            return PostResult("unchanged", int(existing["id"]), existing.get("html_url"))
        payload, _ = self._request("PATCH", self._url(f"issues/comments/{int(existing['id'])}"),
                                   {"body": body})
        return PostResult("updated", int(payload["id"]), payload.get("html_url"))


def _positive_int(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,10}", text.strip()) or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a pull request number")
    return int(text)


def build_parser(prog: str = "python -m llaso_pytest.github") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Create or update the sticky llaso-pytest "
                                "comment on a pull request (token from GITHUB_TOKEN or GH_TOKEN).")
    p.add_argument("--repo", required=True, help="OWNER/NAME")
    pr = p.add_mutually_exclusive_group(required=True)
    pr.add_argument("--pr", type=_positive_int, help="pull request number")
    pr.add_argument("--pr-file", help="file holding the pull request number (from an artifact; "
                    "validated as a number)")
    p.add_argument("--body-file", required=True, help="Markdown body (llaso compare --format md)")
    p.add_argument("--expect-head-sha", default=None,
                   help="only comment if the pull request's head is still this commit")
    p.add_argument("--author", default=None,
                   help="only update a marked comment by this login, e.g. 'github-actions[bot]'")
    p.add_argument("--api-url", default=os.environ.get("GITHUB_API_URL", DEFAULT_API))
    return p


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Exit 0 posted (or skipped: the pull request moved on to a newer commit), 1 GitHub
    refused or failed, 2 unusable input."""
    parser = build_parser(prog or "python -m llaso_pytest.github")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or ""
    try:
        if args.pr is not None:
            pr = args.pr
        else:
            with open(args.pr_file, encoding="utf-8") as fh:
                pr = _positive_int(fh.read(64))
        with open(args.body_file, encoding="utf-8") as fh:
            body = fh.read()
        if args.expect_head_sha is not None and not re.fullmatch(r"[0-9a-f]{40}",
                                                                  args.expect_head_sha):
            raise ValueError(f"--expect-head-sha {args.expect_head_sha!r}: expected 40 hex digits")
        poster = StickyCommenter(repo=args.repo, token=token, api_url=args.api_url)
    except (OSError, ValueError, argparse.ArgumentTypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        result = poster.post(pr, body, author=args.author, expect_head_sha=args.expect_head_sha)
    except HeadMovedError as exc:
        # Not a failure: the report is for an older push. A notice in the Actions log.
        print(f"::notice title=llaso comment skipped::{exc}")
        return 0
    except GitHubError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{result.action} comment {result.comment_id} on {args.repo}#{pr}"
          + (f": {result.url}" if result.url else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
