"""The audio a dataset refers to: it must exist, is hashed, and is checked against pins.

Every case of a speech format names an audio file. :func:`check_case_audio` checks each one
as the shipped dataset manifests are checked (:func:`llaso_pytest.speech.datasets.materialize`):
a missing file is an error naming the case and the file; the file's sha256 goes into the case
(``audio_sha256``) and into the dataset's content hash; where the file's folder (or one above
it) holds pins written by ``python -m llaso_pytest.speech.manifest pin DIR``, a file that
differs from its pin, or that the pins do not list, is an error naming the fix; a duration the
dataset states must agree with the pinned one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from llaso_pytest.cases.core import Case, CasesError, canonical_sha256, sha256_file

__all__ = ["check_case_audio"]


def check_case_audio(cases: list[Case], *, field: str, check: bool
                     ) -> tuple[list[Case], dict[str, Any]]:
    """``cases`` with ``audio_sha256`` filled in, and the audio summary for the provenance."""
    if not check:
        return ([dataclasses.replace(c, fields={**c.fields, "audio_sha256": None})
                 for c in cases],
                {"checked": False, "reason": "check_audio=False: the audio files were not "
                 "checked or hashed"})
    from llaso_pytest.speech.datasets import DURATION_TOLERANCE_S
    from llaso_pytest.speech.errors import ManifestError
    from llaso_pytest.speech.pins import PINS_FILE, PinFinder

    finder = PinFinder()
    hashes: dict[str, str] = {}
    pinned: set[str] = set()
    pin_files: set[str] = set()
    out: list[Case] = []
    for case in cases:
        raw = case.fields.get(field)
        path = Path(str(raw))
        if not path.is_file():
            raise CasesError(f"{case.where}: case {case.id!r}: audio file {path} does not exist. "
                             "Fix the path in the dataset, or restore the file")
        key = str(path.resolve())
        digest = hashes.get(key)
        if digest is None:
            digest = hashes[key] = sha256_file(path)
        try:
            pins = finder.find(path)
        except ManifestError as exc:
            raise CasesError(f"{case.where}: case {case.id!r}: {exc}") from None
        if pins is not None:
            rel = pins.relative(path)
            pin = pins.files.get(rel)
            fix = (f"for a deliberate change, pin the folder again (python -m "
                   f"llaso_pytest.speech.manifest pin {pins.root}) and start a new baseline")
            if pin is None:
                raise CasesError(f"{case.where}: case {case.id!r}: audio file {path} is not "
                                 f"pinned in {pins.source}; {fix}")
            if pin.sha256 != digest:
                raise CasesError(f"{case.where}: case {case.id!r}: {path} has sha256 {digest}, "
                                 f"but {pins.source} pins {pin.sha256}. The audio differs from "
                                 f"the pinned files: restore the original, or {fix}")
            duration = case.fields.get("duration")
            offset = float(case.fields.get("offset") or 0.0)
            if pin.duration is not None and isinstance(duration, float) and \
                    offset + duration > pin.duration + DURATION_TOLERANCE_S:
                raise CasesError(
                    f"{case.where}: case {case.id!r}: the dataset says offset {offset:g} s and "
                    f"duration {duration:g} s, but {path} lasts {pin.duration:g} s (pinned in "
                    f"{pins.source}; tolerance {DURATION_TOLERANCE_S:g} s). Fix the duration "
                    "in the dataset, or restore the file")
            pinned.add(key)
            pin_files.add(str(pins.source))
        out.append(dataclasses.replace(case, fields={**case.fields, "audio_sha256": digest}))
    summary: dict[str, Any] = {
        "checked": True, "n_files": len(hashes), "n_pinned": len(pinned),
        "pins": sorted(pin_files) or None,
        "sha256": canonical_sha256({c.id: c.fields["audio_sha256"] for c in out}),
    }
    if not pinned:
        summary["note"] = (f"hashed, but no {PINS_FILE} covers these files; pin them with "
                           "python -m llaso_pytest.speech.manifest pin DIR")
    return out, summary

