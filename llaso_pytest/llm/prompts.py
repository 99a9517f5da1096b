"""Pinned prompt templates: TOML files, hashed, rendered strictly.

The shipped templates (judge rubrics, generation prompts) live in ``llaso_pytest/llm/templates/``
and are installed with the package (package data), so ``load_prompt("judge_helpfulness")``
works from an installed wheel; a project's own templates are loaded by path or with
``prompt_dir=``.


A template file declares its ``name``, ``kind`` (``generate``, ``rubric``, ``binary`` or
``pairwise``), the ``variables`` it needs, a ``[scale]`` for rubrics, and a list of
``[[messages]]`` (role + content, few-shot turns included). Placeholders are ``{{variable}}``
so JSON examples in a rubric need no escaping. The sha256 of the file text (line endings
normalised to LF) identifies the template: name and hash go into every signature and into the
run record, so an edited prompt shows up in every diff.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from llaso_pytest.errors import LlasoError

__all__ = ["PROMPT_KINDS", "PromptError", "PromptTemplate", "default_prompt_dir", "load_prompt"]

PromptKind = Literal["generate", "rubric", "binary", "pairwise"]
PROMPT_KINDS: tuple[str, ...] = ("generate", "rubric", "binary", "pairwise")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ROLES = ("system", "user", "assistant", "developer")


class PromptError(LlasoError, ValueError):
    """A template file is invalid or was rendered with the wrong variables."""


def default_prompt_dir() -> Path:
    """The folder of the shipped templates, inside the installed package."""
    return Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class PromptTemplate:
    """A parsed, hashed template. ``messages`` holds (role, content) pairs with placeholders."""

    name: str
    kind: PromptKind
    path: str
    sha256: str
    variables: tuple[str, ...]
    messages: tuple[tuple[str, str], ...]
    scale: tuple[int, int] | None = None
    description: str = ""

    @property
    def short_hash(self) -> str:
        return self.sha256[:12]

    @property
    def ref(self) -> str:
        """``name@hash12``: how the template is named in signatures."""
        return f"{self.name}@{self.short_hash}"

    def provenance(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "sha256": self.sha256, "path": self.path,
                "scale": list(self.scale) if self.scale else None}

    def signature_fields(self) -> dict[str, str]:
        return {"prompt": self.name, "prompt_sha256": self.short_hash}

    def render(self, variables: Mapping[str, object]) -> list[dict[str, str]]:
        """Chat messages with every placeholder filled; missing or unexpected names are errors."""
        given = set(variables)
        missing = [v for v in self.variables if v not in given]
        extra = sorted(given - set(self.variables))
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if extra:
                parts.append(f"unexpected {extra}")
            raise PromptError(
                f"prompt {self.name!r} ({self.path}) needs variables {list(self.variables)}: "
                + "; ".join(parts)
            )
        for k, v in variables.items():
            if not isinstance(v, str):
                raise PromptError(
                    f"prompt {self.name!r}: variable {k!r} must be a string, got {type(v).__name__}"
                )

        def fill(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: str(variables[m.group(1)]), text)

        return [{"role": role, "content": fill(content)} for role, content in self.messages]


def _fail(path: Path, msg: str) -> PromptError:
    return PromptError(f"prompt template {path}: {msg}")


def _display_path(p: Path) -> str:
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def load_prompt(
    name_or_path: str | Path, *, prompt_dir: str | Path | None = None
) -> PromptTemplate:
    """Load ``<prompt_dir>/<name>.toml`` (or an explicit path) and validate it."""
    p = Path(name_or_path)
    if p.suffix != ".toml":
        p = Path(prompt_dir or default_prompt_dir()) / f"{name_or_path}.toml"
    if not p.is_file():
        directory = p.parent
        known = sorted(x.stem for x in directory.glob("*.toml")) if directory.is_dir() else []
        raise PromptError(f"prompt template {p} not found; templates in {directory}: {known}")
    text = p.read_bytes().decode("utf-8").replace("\r\n", "\n")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(p, f"invalid TOML: {exc}") from None
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(p, "needs a string `name`")
    kind = data.get("kind")
    if kind not in PROMPT_KINDS:
        raise _fail(p, f"`kind` must be one of {PROMPT_KINDS}, got {kind!r}")
    variables = data.get("variables")
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        raise _fail(p, "needs `variables`, a list of strings")
    raw_messages = data.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise _fail(p, "needs at least one [[messages]] table")
    messages: list[tuple[str, str]] = []
    used: set[str] = set()
    for i, m in enumerate(raw_messages, 1):
        if (
            not isinstance(m, dict)
            or m.get("role") not in _ROLES
            or not isinstance(m.get("content"), str)
        ):
            raise _fail(p, f"message {i} needs `role` in {_ROLES} and a string `content`")
        messages.append((m["role"], m["content"]))
        used.update(_PLACEHOLDER.findall(m["content"]))
    undeclared = sorted(used - set(variables))
    unused = sorted(set(variables) - used)
    if undeclared:
        raise _fail(p, f"placeholders {undeclared} are not declared in `variables`")
    if unused:
        raise _fail(p, f"declared variables {unused} are never used in a message")
    scale: tuple[int, int] | None = None
    if kind == "rubric":
        s = data.get("scale")
        if not (
            isinstance(s, dict)
            and isinstance(s.get("min"), int)
            and isinstance(s.get("max"), int)
            and s["min"] < s["max"]
        ):
            raise _fail(p, "a rubric needs [scale] with integer `min` < `max`")
        scale = (s["min"], s["max"])
    return PromptTemplate(
        name=name,
        kind=kind,
        path=_display_path(p),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        variables=tuple(variables),
        messages=tuple(messages),
        scale=scale,
        description=str(data.get("description", "")),
    )
