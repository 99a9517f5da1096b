"""Choose the workflow run whose artifact is the baseline of a pull request's comparison.

Used by ``.github/workflows/llaso-eval.yml``::

    python -m llaso_pytest.baseline_run select --repo OWNER/NAME \
        --workflow llaso-baseline.yml --branch main

prints the id of the newest eligible run (nothing when there is none yet). Eligible means a
successful ``push`` run of the base repository on the target branch. Any other run of the
baseline workflow is untrusted: a fork's pull request from a branch named ``main`` that adds
``pull_request:`` to the baseline workflow gets a successful run "on main" whose artifact
would otherwise become every later pull request's baseline. The query asks GitHub for push
runs only, and each candidate's event, repository, head repository, branch and conclusion are
checked again here, so a filter that is ignored (or a response that is not what was asked
for) cannot slip one in. Standard library only, like :mod:`llaso_pytest.github`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from llaso_pytest.github import DEFAULT_API, GitHubAPI, GitHubError

__all__ = ["BaselineRun", "BaselineRunFinder", "ineligible", "main"]

TRUSTED_EVENT = "push"
MAX_PAGES = 10
PER_PAGE = 50
_WORKFLOW = re.compile(r"[\w.-]+\.ya?ml")


@dataclass(frozen=True)
class BaselineRun:
    id: int
    head_sha: str
    created_at: str


def _full_name(run: dict[str, Any], key: str) -> str:
    repo = run.get(key)
    name = repo.get("full_name") if isinstance(repo, dict) else None
    return name if isinstance(name, str) else ""


def ineligible(run: Any, *, repo: str, branch: str) -> str | None:
    """Why ``run`` (a workflow run object of the REST API) cannot provide the baseline, or
    ``None`` when it can: a successful ``push`` run of ``repo`` itself on ``branch``."""
    if not isinstance(run, dict) or not isinstance(run.get("id"), int):
        return "not a workflow run object"
    if run.get("event") != TRUSTED_EVENT:
        return f"event {run.get('event')!r}, not {TRUSTED_EVENT!r}"
    for key in ("repository", "head_repository"):
        if _full_name(run, key).lower() != repo.lower():
            return f"{key} {_full_name(run, key)!r}, not {repo!r}"
    if run.get("head_branch") != branch:
        return f"branch {run.get('head_branch')!r}, not {branch!r}"
    if run.get("status") != "completed" or run.get("conclusion") != "success":
        return f"{run.get('status')}/{run.get('conclusion')}, not completed/success"
    return None


class BaselineRunFinder(GitHubAPI):
    """List a workflow's runs and pick the newest eligible one."""

    forbidden_hint = (". The token may not read Actions runs: give the job "
                      "`permissions: actions: read`.")

    def runs(self, workflow: str, branch: str) -> Iterator[dict[str, Any]]:
        """Successful push runs of ``workflow`` on ``branch``, newest first (as GitHub lists
        them), page by page."""
        for page in range(1, MAX_PAGES + 1):
            url = self._url(f"actions/workflows/{workflow}/runs", branch=branch,
                            event=TRUSTED_EVENT, status="success", per_page=PER_PAGE,
                            page=page)
            payload, _ = self._request("GET", url)
            runs = payload.get("workflow_runs") if isinstance(payload, dict) else None
            if not isinstance(runs, list):
                raise GitHubError(f"GET runs of {workflow}: expected an object with "
                                  "'workflow_runs'")
            yield from runs
            if len(runs) < PER_PAGE:
                return

    def select(self, workflow: str, branch: str, *,
               skipped: list[str] | None = None) -> BaselineRun | None:
        """The newest eligible run, or ``None``; refused candidates are appended to
        ``skipped`` as sentences."""
        for run in self.runs(workflow, branch):
            reason = ineligible(run, repo=self.repo, branch=branch)
            if reason is None:
                return BaselineRun(id=run["id"], head_sha=str(run.get("head_sha", "")),
                                   created_at=str(run.get("created_at", "")))
            if skipped is not None:
                rid = run.get("id") if isinstance(run, dict) else None
                skipped.append(f"run {rid} of {workflow} is not a baseline: {reason}")
        return None


def build_parser(prog: str = "python -m llaso_pytest.baseline_run") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Choose the baseline workflow run "
                                "(token from GH_TOKEN or GITHUB_TOKEN).")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("select", help="print the id of the newest successful push run of the "
                       "base repository on the branch (nothing if there is none)")
    s.add_argument("--repo", required=True, help="OWNER/NAME of the base repository")
    s.add_argument("--workflow", required=True, help="workflow file name, e.g. "
                   "llaso-baseline.yml")
    s.add_argument("--branch", required=True, help="the pull request's target branch")
    s.add_argument("--api-url", default=os.environ.get("GITHUB_API_URL", DEFAULT_API))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 (the run id on stdout, or nothing when no run is eligible), 1 GitHub refused
    or failed, 2 unusable input."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN") or ""
    try:
        if not _WORKFLOW.fullmatch(args.workflow):
            raise ValueError(f"--workflow {args.workflow!r}: expected a file name like "
                             "llaso-baseline.yml")
        if not args.branch or args.branch.startswith("-"):
            raise ValueError(f"--branch {args.branch!r}: expected a branch name")
        finder = BaselineRunFinder(repo=args.repo, token=token, api_url=args.api_url,
                                   user_agent="llaso-pytest-baseline-run")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    skipped: list[str] = []
    try:
        run = finder.select(args.workflow, args.branch, skipped=skipped)
    except GitHubError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in skipped:
        print(line, file=sys.stderr)
    if run is None:
        print(f"no successful push run of {args.workflow} on {args.branch} in {args.repo}",
              file=sys.stderr)
        return 0
    print(run.id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
