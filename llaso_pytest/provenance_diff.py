"""Differences between the provenance of two run records, as plain data.

Only sections that can change a number are compared (models, data, prompts, packages, seeds,
hardware, ...); timestamps, the command line and where files live are not differences. A
value recorded by one run only is reported as *absent* on the other side, never as changed:
a run that recorded no datasets says nothing about whether the data changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["PROVENANCE_SECTIONS", "ProvenanceDiff", "diff_provenance", "environment_warnings"]

# Provenance sections whose differences change numbers (timestamps, cwd, command: not these).
PROVENANCE_SECTIONS = ("models", "datasets", "prompts", "packages", "seed", "deterministic",
                       "torch", "torch_autocast", "gpu", "cuda_driver", "python", "platform",
                       "cpu", "environment", "locks", "container")

Change = Literal["changed", "only-base", "only-head"]


@dataclass(frozen=True)
class ProvenanceDiff:
    """A provenance value that differs: ``changed`` (both runs recorded it), or recorded by
    one run only (``only-base``/``only-head``: absent in the other, not known to differ)."""

    path: str
    base: Any
    head: Any
    change: Change = "changed"

    @property
    def section(self) -> str:
        return re.split(r"[.\[]", self.path, maxsplit=1)[0]


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        if not value:
            yield prefix, {}
        for k, v in value.items():
            yield from _flatten(f"{prefix}.{k}" if prefix else str(k), v)
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        for i, v in enumerate(value):
            yield from _flatten(f"{prefix}[{i}]", v)
    else:
        yield prefix, value


def _is_location(value: Any) -> bool:
    """An absolute file-system path: where a checkout or install lives changes no number (the
    files' hashes, recorded beside it, do), so two different locations are not a difference."""
    return isinstance(value, str) and (
        value.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", value) is not None
    )


_MISSING = object()


def diff_provenance(base: Mapping[str, Any], head: Mapping[str, Any],
                    sections: Sequence[str] = PROVENANCE_SECTIONS) -> list[ProvenanceDiff]:
    """Differences in the provenance that can change numbers, as dotted paths."""
    out: list[ProvenanceDiff] = []
    for section in sections:
        in_a, in_b = section in base and base[section] is not None, \
            section in head and head[section] is not None
        if not in_a and not in_b:
            continue
        fa = dict(_flatten(section, base.get(section))) if in_a else {}
        fb = dict(_flatten(section, head.get(section))) if in_b else {}
        for path in list(fa) + [p for p in fb if p not in fa]:
            va, vb = fa.get(path, _MISSING), fb.get(path, _MISSING)
            if va is _MISSING:
                out.append(ProvenanceDiff(path, None, vb, "only-head"))
            elif vb is _MISSING:
                out.append(ProvenanceDiff(path, va, None, "only-base"))
            elif va != vb and not (_is_location(va) and _is_location(vb)):
                out.append(ProvenanceDiff(path, va, vb))
    return out


# What the environment warnings name: (what, does a diff belong to it). A lock recorded by one
# run only is a change too (a lock appeared or went); precision and image only when both runs
# recorded them (a run without torch or outside a container says nothing about them).
_ENVIRONMENT_KINDS: tuple[tuple[str, Any], ...] = (
    ("environment lock", lambda p: p.section == "locks"),
    ("container image", lambda p: p.change == "changed" and p.section == "container"
     and p.path.split(".")[1] in ("runtime", "engine", "image", "image_id", "image_digest")),
    ("precision setting", lambda p: p.change == "changed" and (
        p.path.startswith("torch.precision.") or p.section == "torch_autocast")),
    ("CUDA driver", lambda p: p.change == "changed" and p.section == "cuda_driver"),
)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "...'"


def _shown(p: ProvenanceDiff) -> str:
    if p.change == "only-base":
        return f"{p.path} (base only)"
    if p.change == "only-head":
        return f"{p.path} (head only)"
    return f"{p.path}: {_short(p.base)} -> {_short(p.head)}"


def environment_warnings(diffs: Sequence[ProvenanceDiff]) -> list[str]:
    """One warning per kind of environment change (lock, image, precision, driver) that the
    two runs' provenance shows: their numbers were produced under different environments."""
    out: list[str] = []
    for what, belongs in _ENVIRONMENT_KINDS:
        hits = [p for p in diffs if belongs(p)]
        if hits:
            shown = "; ".join(_shown(p) for p in hits[:4]) + ("; ..." if len(hits) > 4 else "")
            out.append(f"the {what} differs between the runs ({shown}): the numbers were "
                       "produced under different environments, so a difference may come from "
                       "the environment, not the system")
    return out
