"""Text normalizers for speech metrics, chosen by name or given as a callable.

The normalizer's name goes into the result's signature (``norm:<name>``), because it
changes the number: WER with and without Whisper normalisation are different metrics.

Names:

``none``
    identity (the metric's own tokenisation still applies: WER splits on whitespace,
    CER strips leading/trailing whitespace).
``basic``
    Unicode casefold, apostrophes removed (``don't`` -> ``dont``), every other Unicode
    punctuation character replaced by a space, whitespace runs collapsed.
``whisper`` (alias ``whisper_en``)
    the Whisper English normaliser (``whisper_normalizer.english.EnglishTextNormalizer``:
    spelling, numbers, contractions, fillers).
``whisper_basic``
    Whisper's language-independent ``BasicTextNormalizer``.
``japanese`` (alias ``ja``)
    NFKC, then Unicode punctuation (``、。「」・！？`` ...) and all whitespace removed;
    meant for CER, the usual metric for Japanese ASR.

A callable ``str -> str`` is accepted; its name in the signature is
``callable:<module.qualname>``, or pass ``Normalizer(name, fn)`` to choose the name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["NORMALIZERS", "Normalizer", "get_normalizer"]


@dataclass(frozen=True)
class Normalizer:
    """A named ``str -> str`` function; the name is what the signature records."""

    name: str
    fn: Callable[[str], str]

    def __call__(self, text: str) -> str:
        out = self.fn(text)
        if not isinstance(out, str):
            raise TypeError(
                f"normalizer {self.name!r} returned {type(out).__name__}, expected str"
            )
        return out


def _identity(text: str) -> str:
    return text


_WS = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _punct_table() -> dict[int, str | None]:
    import sys

    table: dict[int, str | None] = {}
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp)).startswith("P"):
            table[cp] = " "
    table[ord("'")] = None
    table[ord("\u2019")] = None  # right single quotation mark, used as apostrophe
    return table


@lru_cache(maxsize=1)
def _punct_delete_table() -> dict[int, None]:
    return {cp: None for cp in _punct_table()}


def _basic(text: str) -> str:
    return _WS.sub(" ", text.casefold().translate(_punct_table())).strip()


def _japanese(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return _WS.sub("", text.translate(_punct_delete_table()))


@lru_cache(maxsize=1)
def _whisper_en() -> Callable[[str], str]:
    try:
        from whisper_normalizer.english import EnglishTextNormalizer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "normalize='whisper' needs the whisper-normalizer package "
            "(pip install 'llaso-pytest[metrics]')"
        ) from exc
    fn: Callable[[str], str] = EnglishTextNormalizer()
    return fn


@lru_cache(maxsize=1)
def _whisper_basic() -> Callable[[str], str]:
    try:
        from whisper_normalizer.basic import BasicTextNormalizer
    except ImportError as exc:  # pragma: no cover
        raise ImportError(
            "normalize='whisper_basic' needs the whisper-normalizer package "
            "(pip install 'llaso-pytest[metrics]')"
        ) from exc
    fn: Callable[[str], str] = BasicTextNormalizer()
    return fn


def _whisper_en_call(text: str) -> str:
    return _whisper_en()(text)


def _whisper_basic_call(text: str) -> str:
    return _whisper_basic()(text)


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "none": _identity,
    "basic": _basic,
    "whisper": _whisper_en_call,
    "whisper_basic": _whisper_basic_call,
    "japanese": _japanese,
}
_ALIASES = {"whisper_en": "whisper", "ja": "japanese", None: "none"}


def get_normalizer(spec: str | Callable[[str], str] | Normalizer | None) -> Normalizer:
    """Resolve ``normalize=``: a name, a :class:`Normalizer`, a callable, or ``None`` (none)."""
    if isinstance(spec, Normalizer):
        return spec
    if spec is None or isinstance(spec, str):
        key = _ALIASES.get(spec, spec)
        if key not in NORMALIZERS:
            raise ValueError(
                f"unknown normalizer {spec!r}; choose one of {', '.join(sorted(NORMALIZERS))}, "
                "or pass a callable"
            )
        if key == "whisper":
            _whisper_en()  # fail early with a clear ImportError
        elif key == "whisper_basic":
            _whisper_basic()
        return Normalizer(str(key), NORMALIZERS[str(key)])
    if callable(spec):
        mod = getattr(spec, "__module__", None) or "?"
        qual = getattr(spec, "__qualname__", None) or type(spec).__qualname__
        return Normalizer(f"callable:{mod}.{qual}", spec)
    raise TypeError(f"normalize= must be a name or a callable, got {type(spec).__name__}")
