"""Choosing the baseline run (llaso-eval.yml) against a local fake of GitHub's REST API, with
a poisoned candidate: a fork's pull request from its own `main` that made the baseline
workflow run on `pull_request`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_github import FakeGitHub, serve

from llaso_pytest import baseline_run
from llaso_pytest.baseline_run import BaselineRunFinder, ineligible
from llaso_pytest.github import GitHubAPI, GitHubError

TOKEN = "ghs_fakeTOKENbaseline0123456789"
WF = "llaso-baseline.yml"


@pytest.fixture()
def gh() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub(token=TOKEN)) as state:
        yield state


def finder(gh: FakeGitHub) -> BaselineRunFinder:
    return BaselineRunFinder(repo=gh.repo, token=TOKEN, api_url=gh.url)


def poison(gh: FakeGitHub) -> tuple[int, int]:
    """A legitimate push run, then newer runs on a branch named main that are not pushes
    of the base repository: the fork's pull request, a manual dispatch, a failed push."""
    legit = gh.add_run(WF, created_at="2026-03-01T10:00:00Z")
    bad = gh.add_run(WF, event="pull_request", head_repo="mallory/models",
                     created_at="2026-03-02T10:00:00Z")
    gh.add_run(WF, event="workflow_dispatch", created_at="2026-03-01T11:00:00Z")
    gh.add_run(WF, conclusion="failure", created_at="2026-03-02T12:00:00Z")
    gh.add_run(WF, branch="feature", created_at="2026-03-02T13:00:00Z")
    return legit["id"], bad["id"]


def test_the_old_query_picks_the_poisoned_run(gh: FakeGitHub) -> None:
    # what `gh run list --workflow W --branch main --status success --limit 1` asked for:
    # the fake answers it as GitHub does, with the fork's run first
    legit, bad = poison(gh)
    api = GitHubAPI(repo=gh.repo, token=TOKEN, api_url=gh.url)
    payload, _ = api._request("GET", api._url(f"actions/workflows/{WF}/runs", branch="main",
                                              status="success", per_page=1))
    assert payload["workflow_runs"][0]["id"] == bad != legit


def test_only_a_push_run_of_the_base_repository_is_chosen(gh: FakeGitHub) -> None:
    legit, _bad = poison(gh)
    assert finder(gh).select(WF, "main").id == legit  # type: ignore[union-attr]
    (method, path), = gh.requests
    assert method == "GET" and "event=push" in path and "branch=main" in path


def test_each_candidate_is_checked_even_if_the_api_ignores_the_event_filter(
        gh: FakeGitHub) -> None:
    legit, bad = poison(gh)
    gh.ignore_event_filter = True
    skipped: list[str] = []
    run = finder(gh).select(WF, "main", skipped=skipped)
    assert run is not None and run.id == legit
    assert skipped[-2] == (f"run {bad} of {WF} is not a baseline: event 'pull_request', "
                          "not 'push'")
    assert any("workflow_dispatch" in s for s in skipped)


def test_a_push_run_whose_head_is_another_repository_is_refused(gh: FakeGitHub) -> None:
    gh.add_run(WF, head_repo="mallory/models")
    assert finder(gh).select(WF, "main") is None
    run = gh.runs[WF][0]
    assert ineligible(run, repo=gh.repo, branch="main") == (
        "head_repository 'mallory/models', not 'octo/models'")
    run["head_repository"] = None
    assert "head_repository ''" in (ineligible(run, repo=gh.repo, branch="main") or "")
    assert ineligible([], repo=gh.repo, branch="main") == "not a workflow run object"


def test_the_newest_eligible_run_is_found_on_a_later_page(gh: FakeGitHub) -> None:
    legit = gh.add_run(WF, created_at="2026-01-01T00:00:00Z")
    for i in range(120):
        gh.add_run(WF, event="pull_request", head_repo="mallory/models",
                   created_at=f"2026-02-01T00:{i // 60:02d}:{i % 60:02d}Z")
    gh.ignore_event_filter = True
    assert finder(gh).select(WF, "main").id == legit["id"]  # type: ignore[union-attr]
    assert len(gh.requests) == 3


def test_cli_prints_the_run_id_or_nothing(gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    args = ["select", "--repo", gh.repo, "--workflow", WF, "--branch", "main",
            "--api-url", gh.url]
    gh.runs[WF] = []
    assert baseline_run.main(args) == 0
    out, err = capsys.readouterr()
    assert out == "" and "no successful push run of llaso-baseline.yml on main" in err
    legit, _ = poison(gh)
    gh.ignore_event_filter = True
    assert baseline_run.main(args) == 0
    out, err = capsys.readouterr()
    assert out == f"{legit}\n" and "mallory" not in out and TOKEN not in out + err
    assert baseline_run.main([*args[:-4], "--branch", "-x", "--api-url", gh.url]) == 2
    assert baseline_run.main([*args[:4], "../x", *args[5:]]) == 2
    monkeypatch.setenv("GH_TOKEN", "wrong")
    assert baseline_run.main(args) == 1
    assert "401" in capsys.readouterr().err


def test_a_redirect_off_the_api_is_refused(gh: FakeGitHub) -> None:
    gh.redirects[f"/repos/{gh.repo}/actions/"] = (302, "http://example.invalid/runs")
    with pytest.raises(GitHubError, match="refused"):
        finder(gh).select(WF, "main")
