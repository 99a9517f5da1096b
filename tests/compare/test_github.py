"""The sticky PR comment poster against a local fake of GitHub's REST API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_github import FakeGitHub, serve

from llaso_pytest import github
from llaso_pytest.github import MARKER, GitHubError, StickyCommenter

TOKEN = "ghs_fakeTOKEN0123456789abcdefSECRET"
SHA = "a" * 40
PR = 17


@pytest.fixture()
def gh() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub(token=TOKEN, pulls={PR: SHA, 18: "b" * 40})) as state:
        yield state


@pytest.fixture()
def env(gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    return gh


def poster(gh: FakeGitHub) -> StickyCommenter:
    return StickyCommenter(repo=gh.repo, token=TOKEN, api_url=gh.url)


def body(text: str = "report") -> str:
    return f"{MARKER}\n### llaso\n{text}\n"


def test_creates_the_comment_when_there_is_none(gh: FakeGitHub) -> None:
    for i in range(3):
        gh.add_comment(PR, f"unrelated {i}")
    result = poster(gh).post(PR, body())
    assert result.action == "created"
    assert gh.comments[PR][-1]["body"] == body()
    assert gh.requests[0] == ("GET", f"/repos/octo/models/issues/{PR}/comments?per_page=100")
    assert gh.requests[-1] == ("POST", f"/repos/octo/models/issues/{PR}/comments")
    assert set(gh.auth_headers) == {f"Bearer {TOKEN}"}


def test_updates_the_marked_comment_found_on_a_later_page(gh: FakeGitHub) -> None:
    for i in range(230):
        gh.add_comment(PR, f"chatter {i}")
    mine = gh.add_comment(PR, body("old numbers"), login="github-actions[bot]")
    for i in range(40):
        gh.add_comment(PR, f"more chatter {i}")
    result = poster(gh).post(PR, body("new numbers"), author="github-actions[bot]")
    assert result.action == "updated" and result.comment_id == mine["id"]
    assert mine["body"] == body("new numbers")
    gets = [p for m, p in gh.requests if m == "GET"]
    assert gets == [f"/repos/octo/models/issues/{PR}/comments?per_page=100",
                    f"/repos/octo/models/issues/{PR}/comments?per_page=100&page=2",
                    f"/repos/octo/models/issues/{PR}/comments?per_page=100&page=3"]
    assert ("PATCH", f"/repos/octo/models/issues/comments/{mine['id']}") in gh.requests
    assert not any(m == "POST" for m, _ in gh.requests)
    assert len(gh.comments[PR]) == 271  # no new comment


def test_every_push_updates_the_same_comment(gh: FakeGitHub) -> None:
    p = poster(gh)
    first = p.post(PR, body("push 1"))
    second = p.post(PR, body("push 2"))
    third = p.post(PR, body("push 2"))
    assert (first.action, second.action, third.action) == ("created", "updated", "unchanged")
    assert first.comment_id == second.comment_id == third.comment_id
    assert [c["body"] for c in gh.comments[PR]] == [body("push 2")]


def test_a_marker_in_someone_elses_comment_is_not_taken_over(gh: FakeGitHub) -> None:
    gh.add_comment(PR, body("copied by a human"), login="mallory")
    result = poster(gh).post(PR, body(), author="github-actions[bot]")
    assert result.action == "created"
    assert gh.comments[PR][0]["body"] == body("copied by a human")


def test_the_marker_is_added_when_missing(gh: FakeGitHub) -> None:
    poster(gh).post(PR, "no marker here")
    assert gh.comments[PR][0]["body"].startswith(MARKER)


def test_fork_token_403_is_explained(gh: FakeGitHub) -> None:
    gh.read_only = True
    with pytest.raises(GitHubError) as err:
        poster(gh).post(PR, body())
    msg = str(err.value)
    assert err.value.status == 403
    assert "POST /repos/octo/models/issues/17/comments: GitHub answered 403" in msg
    assert "Resource not accessible by integration" in msg
    assert "fork" in msg and "workflow_run" in msg
    assert TOKEN not in msg


def test_wrong_token_and_unknown_pr(gh: FakeGitHub) -> None:
    bad = StickyCommenter(repo=gh.repo, token="nope", api_url=gh.url)
    with pytest.raises(GitHubError, match="401 .*Bad credentials.*missing, expired or invalid"):
        bad.post(PR, body())
    with pytest.raises(GitHubError, match="404"):
        poster(gh).post(999, body())


def test_head_sha_must_match_the_evaluated_commit(gh: FakeGitHub) -> None:
    with pytest.raises(GitHubError, match="not at the evaluated commit"):
        poster(gh).post(PR, body(), expect_head_sha="c" * 40)
    assert PR not in gh.comments
    assert poster(gh).post(PR, body(), expect_head_sha=SHA).action == "created"


def test_a_newer_push_is_a_notice_not_a_failure(env: FakeGitHub, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # the evaluated commit is SHA, but the pull request has moved on to another one
    md = tmp_path / "comment.md"
    md.write_text(body())
    args = ["--repo", env.repo, "--pr", str(PR), "--body-file", str(md), "--api-url", env.url,
            "--expect-head-sha", "c" * 40]
    assert github.main(args) == 0
    out, _err = capsys.readouterr()
    assert out.startswith("::notice") and "not at the evaluated commit" in out
    assert PR not in env.comments
    with pytest.raises(github.HeadMovedError):
        poster(env).post(PR, body(), expect_head_sha="c" * 40)
    # other refusals still fail the job
    env.read_only = True
    assert github.main(args[:-2] + ["--expect-head-sha", SHA]) == 1


def test_oversized_bodies_are_refused(gh: FakeGitHub) -> None:
    with pytest.raises(GitHubError, match="at most 65536"):
        poster(gh).post(PR, body("x" * 70_000))
    assert gh.requests == []


def test_links_outside_the_api_are_not_followed(gh: FakeGitHub) -> None:
    p = StickyCommenter(repo=gh.repo, token=TOKEN, api_url=gh.url)
    with pytest.raises(GitHubError, match="refusing to follow"):
        p._request("GET", "https://evil.invalid/steal")


def test_repr_hides_the_token(gh: FakeGitHub) -> None:
    assert TOKEN not in repr(poster(gh))


def test_cli_posts_and_never_prints_the_token(env: FakeGitHub, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    md = tmp_path / "comment.md"
    md.write_text(body())
    pr_file = tmp_path / "pr-number"
    pr_file.write_text(f"{PR}\n")
    args = ["--repo", env.repo, "--pr-file", str(pr_file), "--body-file", str(md),
            "--api-url", env.url, "--expect-head-sha", SHA, "--author", "github-actions[bot]"]
    assert github.main(args) == 0
    assert github.main(args) == 0
    out, err = capsys.readouterr()
    assert "created comment" in out and "on octo/models#17" in out
    assert TOKEN not in out + err
    env.read_only = True
    md.write_text(body("changed"))
    assert github.main(args) == 1
    out, err = capsys.readouterr()
    assert "403" in err and "fork" in err and TOKEN not in out + err


@pytest.mark.parametrize("content", ["17; rm -rf /", "-3", "", "1" * 20, "abc"])
def test_cli_rejects_a_bad_pr_number_from_the_artifact(env: FakeGitHub, tmp_path: Path,
                                                       content: str) -> None:
    md = tmp_path / "comment.md"
    md.write_text(body())
    pr_file = tmp_path / "pr-number"
    pr_file.write_text(content)
    rc = github.main(["--repo", env.repo, "--pr-file", str(pr_file), "--body-file", str(md),
                      "--api-url", env.url])
    assert rc == 2
    assert env.requests == []


def test_cli_without_a_token(gh: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    md = tmp_path / "c.md"
    md.write_text(body())
    assert github.main(["--repo", gh.repo, "--pr", "17", "--body-file", str(md),
                        "--api-url", gh.url]) == 2
    assert "set GITHUB_TOKEN" in capsys.readouterr().err


def test_runs_as_a_plain_script_without_installing_anything(env: FakeGitHub,
                                                             tmp_path: Path) -> None:
    # llaso-comment.yml runs `python llaso_pytest/github.py` from a checkout of the default
    # branch, with no pip install: the script must need the standard library only.
    md = tmp_path / "comment.md"
    md.write_text(body())
    script = Path(github.__file__)
    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(script), "--repo", env.repo, "--pr", str(PR),
         "--body-file", str(md), "--api-url", env.url],
        capture_output=True, text=True, timeout=60, check=False,
        env={"GITHUB_TOKEN": TOKEN, "PATH": os.environ.get("PATH", "")},
    )
    assert proc.returncode == 0, proc.stderr
    assert "created comment" in proc.stdout and TOKEN not in proc.stdout + proc.stderr


def test_llaso_comment_subcommand(env: FakeGitHub, tmp_path: Path) -> None:
    from llaso_pytest.cli import main

    md = tmp_path / "comment.md"
    md.write_text(body())
    assert main(["comment", "--repo", env.repo, "--pr", str(PR), "--body-file", str(md),
                 "--api-url", env.url]) == 0
    assert len(env.comments[PR]) == 1


@pytest.fixture()
def evil() -> Iterator[FakeGitHub]:
    # another origin that would accept the token and answer like GitHub
    with serve(FakeGitHub(token=TOKEN, pulls={PR: SHA})) as state:
        state.add_comment(PR, body("planted"), login="github-actions[bot]")
        yield state


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_a_redirect_to_another_origin_is_an_error_and_gets_no_token(
        gh: FakeGitHub, evil: FakeGitHub, code: int) -> None:
    gh.redirects[f"/repos/{gh.repo}/issues/{PR}/comments"] = (
        code, f"{evil.url}/repos/{gh.repo}/issues/{PR}/comments")
    with pytest.raises(GitHubError) as err:
        poster(gh).post(PR, body(), author="github-actions[bot]")
    msg = str(err.value)
    assert f"answered {code} redirecting to {evil.url}/repos" in msg and "refused" in msg
    assert TOKEN not in msg
    assert evil.requests == [] and evil.auth_headers == []  # nothing reached the other origin
    assert evil.comments[PR][0]["body"] == body("planted") and PR not in gh.comments


def test_a_redirect_to_another_host_name_or_scheme_is_refused(gh: FakeGitHub) -> None:
    port = gh.url.rsplit(":", 1)[1]
    for target in (f"http://localhost:{port}", f"https://127.0.0.1:{port}",
                   f"http://user:pw@127.0.0.1:{port}"):
        gh.redirects = {f"/repos/{gh.repo}/pulls/{PR}": (301, f"{target}/repos/x/y/pulls/1")}
        gh.requests.clear()
        with pytest.raises(GitHubError, match="refused") as err:
            poster(gh).head_sha(PR)
        assert "pw" not in str(err.value)
        assert len(gh.requests) == 1  # the redirect itself, not followed


def test_a_redirect_within_the_api_is_followed(gh: FakeGitHub) -> None:
    # a renamed repository: GitHub answers 301 to the new path on the same origin
    gh.add_comment(PR, "hello")
    gh.redirects["/repos/octo/old-name/"] = (301, f"{gh.url}/repos/{gh.repo}/")
    old = StickyCommenter(repo="octo/old-name", token=TOKEN, api_url=gh.url)
    assert [c["body"] for c in old.comments(PR)] == ["hello"]
    assert set(gh.auth_headers) == {f"Bearer {TOKEN}"} and len(gh.auth_headers) == 2


def test_the_poster_and_the_markdown_report_agree_on_marker_and_limit() -> None:
    """github.py runs as a plain script, so it keeps its own copy of the two constants."""
    from llaso_pytest import github
    from llaso_pytest.report import markdown

    assert github.MARKER == markdown.MARKER
    assert github.COMMENT_LIMIT == markdown.GITHUB_LIMIT
