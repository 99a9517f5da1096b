"""The section layout shared by model and data cards: generated sections, written sections
kept across regenerations, TODO markers, and the check."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from llaso_pytest.errors import LlasoError

__all__ = ["TODO", "CardError", "CardProblem", "Section", "cell", "check_card", "compose",
           "split_sections"]

#: Marks a section (or field) a person has to write; ``--check`` fails while one is left.
TODO = "TODO(llaso):"
_HEADING = re.compile(r"^## (.+?)\s*$", re.M)


class CardError(LlasoError, ValueError):
    """A card cannot be generated or read (bad record, dataset or card file)."""


@dataclass(frozen=True)
class Section:
    """A ``## title`` section: ``generated`` ones are rewritten each time; ``written`` ones
    keep the existing card's text, else ``body`` (a TODO prompt); ``required`` written
    sections must be filled for the check to pass."""

    title: str
    body: str
    kind: Literal["generated", "written"] = "generated"
    required: bool = True


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, newlines folded)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def split_sections(text: str) -> dict[str, str]:
    """``{title: body}`` of the ``## `` sections of a card's Markdown text."""
    out: dict[str, str] = {}
    matches = list(_HEADING.finditer(text))
    for m, nxt in zip(matches, [*matches[1:], None], strict=True):
        end = nxt.start() if nxt is not None else len(text)
        out[m.group(1)] = text[m.end():end].strip("\n")
    return out


def compose(title: str, intro: str, sections: Sequence[Section],
            existing: Mapping[str, str] | None) -> str:
    """The Markdown text of a card: written sections taken from ``existing`` when filled."""
    parts = [f"# {title}", "", intro.strip(), ""]
    old = dict(existing or {})
    for s in sections:
        body = s.body
        if s.kind == "written" and s.title in old and old[s.title].strip():
            body = old[s.title]
        parts += [f"## {s.title}", "", body.strip(), ""]
    # written sections the template does not know (added by a person) are kept, at the end
    known = {s.title for s in sections}
    for t, body in old.items():
        if t not in known and not t.startswith("_"):
            parts += [f"## {t}", "", body.strip(), ""]
    return "\n".join(parts).rstrip() + "\n"


@dataclass(frozen=True)
class CardProblem:
    """One reason a card fails the check: the card, the field or section, what is wrong."""

    path: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.message}"


def check_card(path: str | Path, *, kind: Literal["model", "data"],
               required: Sequence[str], expected: Mapping[tuple[str, ...], Any]
               ) -> list[CardProblem]:
    """Problems of the card at ``path``: missing, unparsable, a required section absent or
    still TODO, or a metadata value (``expected``: dotted key -> value, e.g. the dataset
    sha256; a key is a path into the YAML) that differs (stale). An empty list: the card passes."""
    from huggingface_hub import DatasetCard, ModelCard

    p = Path(path)
    if not p.is_file():
        return [CardProblem(str(p), "card", "missing; generate it with llaso card "
                            f"{kind} ... -o {p}")]
    cls = ModelCard if kind == "model" else DatasetCard
    try:
        card = cls.load(p)
    except Exception as exc:  # huggingface_hub raises ValueError and YAML errors
        return [CardProblem(str(p), "metadata", f"does not parse with huggingface_hub: {exc}")]
    problems: list[CardProblem] = []
    sections = split_sections(card.text)
    for title in required:
        body = sections.get(title)
        if body is None:
            problems.append(CardProblem(str(p), f"section {title!r}", "missing"))
        elif TODO in body or not body.strip():
            problems.append(CardProblem(str(p), f"section {title!r}",
                                        f"unfilled (still {TODO}); write it"))
    data = card.data.to_dict()
    for key, want in expected.items():
        got: Any = data
        for part in key:
            got = got.get(part) if isinstance(got, Mapping) else None
        if got != want:
            problems.append(CardProblem(str(p), ".".join(key), f"stale: the card says {got!r}, the "
                                        f"current value is {want!r}; regenerate the card"))
    return problems
