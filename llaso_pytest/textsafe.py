"""Neutralise untrusted text (test ids, metric names, item ids, notes, provenance values)
before any report shows it: one place, used by every renderer at its escape point.

Three things a crafted string could do once rendered:

* **Bidi controls** (U+202A-U+202E, U+2066-U+2069, U+200E/U+200F, U+061C) reorder what a
  reader sees ("Trojan Source"): a metric named ``wer\u202e)regressed(`` displays as another
  text than it is. Each one is replaced by a visible ``⟨U+202E⟩``.
* **GitHub references**: ``@name`` notifies a user or team, ``#12``, ``GH-12`` and an issue or
  pull request URL (``https://github.com/o/r/issues/1``, ``/pull/``, ``/discussions/``) link
  the comment and post a cross-reference into that issue. An invisible zero-width joiner is
  inserted (``@\u200dname``, ``GH\u200d-12``, ``https:\u200d//...``) so that none of them is
  recognised, while the text reads the same.
* **Control characters** (C0 including tab and line breaks, DEL, C1; the terminal's escape
  sequences among them) are replaced by ``⟨U+001B⟩`` in terminal output, where a line
  break in an id would forge a row and an escape sequence could rewrite the screen.

Pure: no imports beyond ``re``; each function is idempotent (applying it twice changes
nothing), so a renderer may neutralise a cell and then the whole line.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "BIDI_CONTROLS",
    "ZWJ",
    "neutralize",
    "neutralize_bidi",
    "neutralize_controls",
    "neutralize_references",
]

#: Zero-width joiner: invisible, but ``@\u200dname`` is no mention and ``#\u200d12`` no link.
ZWJ = "\u200d"

#: The Unicode bidirectional formatting characters (embeddings, overrides, isolates, marks).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                          "\u200e\u200f\u061c")
_BIDI = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")

_MENTION = re.compile(r"([@#])(?=\w)")  # @user, @org/team, #12, o/r#12
_GH_REF = re.compile(r"(GH)(?=-\d)", re.IGNORECASE)  # GH-12
# an issue, pull request or discussion URL (any host: GitHub Enterprise too), with or
# without the scheme GitHub's autolinker needs ("https://" or "www.")
_URL_REF = re.compile(r"(https?:|www)(?=(?://|\.)\S*?/(?:issues|pulls?|discussions)/\d)",
                      re.IGNORECASE)


def _visible(match: re.Match[str]) -> str:
    return f"⟨U+{ord(match.group()):04X}⟩"


def neutralize_bidi(text: str) -> str:
    """Each bidi control replaced by a visible ``⟨U+XXXX⟩``."""
    return _BIDI.sub(_visible, text)


def neutralize_controls(text: str) -> str:
    """C0 controls (tab and line breaks too: for one-line cells), DEL and C1 controls
    replaced by ``⟨U+XXXX⟩``."""
    return _CONTROLS.sub(_visible, text)


def neutralize_references(text: str) -> str:
    """``@mention``, ``#12``, ``GH-12`` and issue/pull request URLs broken by an invisible
    zero-width joiner, so GitHub neither notifies, links nor cross-references."""
    text = _MENTION.sub("\\1" + ZWJ, text)
    text = _GH_REF.sub("\\1" + ZWJ, text)
    return _URL_REF.sub("\\1" + ZWJ, text)


def neutralize(value: Any, *, trusted: bool = False, controls: bool = False) -> str:
    """``str(value)`` safe to render: bidi controls made visible, GitHub references broken
    (kept when ``trusted``, e.g. a URL the user passed on the command line), and with
    ``controls`` also the control characters (terminal output)."""
    text = neutralize_bidi(str(value))
    if controls:
        text = neutralize_controls(text)
    return text if trusted else neutralize_references(text)
