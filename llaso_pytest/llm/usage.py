"""LLM usage of a run: aggregation of per-process counters and their rendering as plain lines.

Pytest-free: the LLM sub-plugin only carries the counters (xdist workers send their cumulative
snapshots on ``report.user_properties``) and calls these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["aggregate", "judge_error_lines", "render_budget", "render_usage"]

Snapshot = Mapping[str, Any]  # UsageStats.snapshot()


def aggregate(per_process: Iterable[Mapping[str, Snapshot]]) -> dict[str, dict[str, Any]] | None:
    """Sum the latest cumulative snapshot of each process, per role; ``None`` when there is none.

    Each role: api_calls, retries, cache_hits, cache_misses, items_ok, items_failed,
    prompt_tokens, completion_tokens, cost_usd (``None`` when no price is configured),
    calls_without_usage (replies without token counts, whose cost is unknown), errors_by_type.
    """
    out: dict[str, dict[str, Any]] = {}
    for usage in per_process:
        for role, snap in usage.items():
            acc = out.setdefault(role, {"cost_usd": None, "errors_by_type": {}})
            for k, v in snap.items():
                if k == "cost_usd":
                    if v is not None:
                        acc["cost_usd"] = (acc["cost_usd"] or 0.0) + v
                elif k == "errors_by_type":
                    for et, n in v.items():
                        acc["errors_by_type"][et] = acc["errors_by_type"].get(et, 0) + n
                else:
                    acc[k] = acc.get(k, 0) + v
    return {role: out[role] for role in sorted(out)} or None


def render_usage(summary: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per role for the terminal summary."""
    lines = []
    for role, u in summary.items():
        no_usage = u.get("calls_without_usage", 0)
        if u.get("cost_usd") is None:
            cost = (
                "unknown (no price configured)"
                if not no_usage
                else f"unknown ({no_usage} replies had no usage)"
            )
        else:
            cost = f"${u['cost_usd']:.4f}" + (
                f" + unknown ({no_usage} replies had no usage)" if no_usage else ""
            )
        errs = (
            ", ".join(f"{k}={v}" for k, v in sorted(u.get("errors_by_type", {}).items())) or "none"
        )
        lines.append(
            f"{role}: {u.get('api_calls', 0)} API calls ({u.get('retries', 0)} retries), cache "
            f"{u.get('cache_hits', 0)} hits / {u.get('cache_misses', 0)} misses, tokens "
            f"{u.get('prompt_tokens', 0)} in / {u.get('completion_tokens', 0)} out, "
            f"est. cost {cost}, "
            f"failed items {u.get('items_failed', 0)} (errors: {errs})"
        )
    return lines


def render_budget(budget: Mapping[str, Any]) -> str:
    """The budget line: what was spent against each limit, and what was not called."""
    spent = [f"${budget['spent_usd']:.4f}" + (
        f" of ${budget['limit_usd']:g}" if budget.get("limit_usd") is not None else ""),
        f"{budget['calls']}" + (f" of {budget['limit_calls']}"
                                if budget.get("limit_calls") is not None else "") + " API calls"]
    state = (f"REACHED: {budget['calls_refused']} call(s) not made (budget_exceeded)"
             if budget.get("exceeded") else "not reached")
    unknown = (f", {budget['replies_without_usage']} replies without token counts"
               if budget.get("replies_without_usage") else "")
    return (f"budget: spent {', '.join(spent)}{unknown}; {state} "
            f"({budget.get('processes', 1)} process(es) sharing it)")


def judge_error_lines(record: Mapping[str, Any]) -> list[str]:
    """One line per recorded judge result with items in an error state (from the run record)."""
    lines = []
    for t in record.get("tests", []):
        for res in t.get("results", []) or []:
            judge = ((res.get("extra") or {}).get("judge") or {}) if isinstance(res, dict) else {}
            if judge.get("n_errors"):
                kinds = ", ".join(
                    f"{k}={n}" for k, n in sorted(judge.get("errors_by_kind", {}).items())
                )
                ids = ", ".join(str(e["id"]) for e in judge.get("error_items", [])[:5])
                lines.append(
                    f"{t.get('nodeid')} {res.get('name')}: "
                    f"{judge['n_errors']} of {judge['n_items']} "
                    f"judged items in an error state ({kinds}), not scored: {ids}"
                )
    return lines
