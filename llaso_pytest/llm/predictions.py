"""Pinned LLM datasets and predictions: JSONL files verified by sha256 from a manifest.

Predictions mode evaluates a pinned file of model outputs instead of calling a model, so a
suite is reproducible and runs offline. A manifest (``manifest.json``) names the dataset file
and one or more prediction files, each with its sha256; every load verifies the hash, and
parsing is strict: a malformed line, a duplicate id, an id missing from the predictions or an
id the dataset does not know is an error naming the file, the line and the fix.

``python -m llaso_pytest.llm.predictions pin MANIFEST`` rewrites the hashes after a deliberate
edit (the diff of the manifest then shows the change).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llaso_pytest.errors import LlasoError
from llaso_pytest.lineage.lfs import LfsPointerError, sha256_data
from llaso_pytest.record import atomic_write_text

__all__ = [
    "Dataset",
    "Manifest",
    "Predictions",
    "PredictionsError",
    "PredictionsLfsPointerError",
    "export_predictions",
    "jsonl_objects",
    "load_dataset",
    "load_manifest",
    "load_predictions",
    "pin",
    "sha256_file",
    "strict_json",
]

_FIELD_TYPES = ("str", "list[str]")


class PredictionsError(LlasoError, ValueError):
    """A pinned dataset or prediction file is missing, altered or malformed."""


class PredictionsLfsPointerError(PredictionsError, LfsPointerError):
    """A Git LFS pointer file stands where a dataset or prediction file should be."""


def sha256_file(path: str | Path, *, expected: str | None = None) -> str:
    """Hex sha256 of a data file; a Git LFS pointer in its place is refused."""
    return sha256_data(path, expected=expected, error=PredictionsLfsPointerError)


@dataclass(frozen=True)
class Manifest:
    path: Path
    name: str
    task: str
    language: str
    data_path: Path
    data_sha256: str
    fields: Mapping[str, str]
    predictions: Mapping[str, Mapping[str, Any]]  # system -> {path, sha256, model, prompt, ...}

    @property
    def systems(self) -> tuple[str, ...]:
        return tuple(self.predictions)


def _err(path: Path | str, msg: str) -> PredictionsError:
    return PredictionsError(f"{path}: {msg}")


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a ``manifest.json`` (paths inside are relative to it)."""
    p = Path(path)
    if p.is_dir():
        p = p / "manifest.json"
    if not p.is_file():
        raise _err(p, "manifest not found")
    try:
        data = strict_json(p.read_text(encoding="utf-8"))
    except ValueError as exc:  # UnicodeDecodeError included
        raise _err(p, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _err(p, "a manifest must be a JSON object")
    for key in ("name", "task", "language", "data", "fields"):
        if key not in data:
            raise _err(p, f"manifest lacks {key!r}")
    d = data["data"]
    if not (
        isinstance(d, dict) and isinstance(d.get("path"), str) and isinstance(d.get("sha256"), str)
    ):
        raise _err(p, "'data' must be {\"path\": ..., \"sha256\": ...}")
    fields = data["fields"]
    if not isinstance(fields, dict) or not all(v in _FIELD_TYPES for v in fields.values()):
        raise _err(p, f"'fields' must map field names to one of {_FIELD_TYPES}")
    preds = data.get("predictions", {})
    if not isinstance(preds, dict):
        raise _err(p, "'predictions' must map system names to {path, sha256, ...}")
    for system, spec in preds.items():
        if not (
            isinstance(spec, dict)
            and isinstance(spec.get("path"), str)
            and isinstance(spec.get("sha256"), str)
        ):
            raise _err(p, f"predictions[{system!r}] must have string 'path' and 'sha256'")
    return Manifest(
        path=p, name=str(data["name"]), task=str(data["task"]), language=str(data["language"]),
        data_path=p.parent / d["path"], data_sha256=d["sha256"], fields=dict(fields),
        predictions={k: dict(v) for k, v in preds.items()},
    )


def _verify(path: Path, expected: str, manifest: Path) -> str:
    if not path.is_file():
        raise _err(path, f"file named in {manifest} does not exist")
    actual = sha256_file(path, expected=expected)
    if actual != expected:
        raise _err(
            path,
            f"sha256 mismatch: the manifest {manifest} pins {expected[:16]}..., the file has "
            f"{actual[:16]}...; the file was changed. Restore it, or if the change is deliberate "
            f"run `python -m llaso_pytest.llm.predictions pin {manifest}` and commit the new hash",
        )
    return actual


class _DuplicateKey(LlasoError, ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` refusing a key given twice (``json`` keeps the last silently)."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(f"duplicate key {key!r} in a JSON object (the values "
                                f"{obj[key]!r:.40} and {value!r:.40}); keep one")
        obj[key] = value
    return obj


def strict_json(text: str) -> Any:
    """``json.loads`` that refuses duplicate object keys (:class:`ValueError`)."""
    return json.loads(text, object_pairs_hook=_unique_keys)


def jsonl_objects(
    path: Path, error: Callable[[str], Exception]
) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSONL file; a line that is not
    UTF-8, not a JSON object, or an object with a duplicate key raises ``error("line N: ...")``.
    """
    rows: list[tuple[int, dict[str, Any]]] = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise error(
                    f"line {lineno}: not UTF-8 (byte 0x{raw[exc.start]:02x} at column "
                    f"{exc.start + 1}); save the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                obj = strict_json(line)
            except _DuplicateKey as exc:
                raise error(f"line {lineno}: {exc}") from None
            except ValueError as exc:
                raise error(f"line {lineno}: not valid JSON ({exc.args[0]})") from None
            if not isinstance(obj, dict):
                raise error(f"line {lineno}: expected a JSON object, got {type(obj).__name__}")
            rows.append((lineno, obj))
    return rows


def _jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    return jsonl_objects(path, lambda msg: _err(path, msg))


def _check_id(path: Path, lineno: int, obj: Mapping[str, Any], seen: dict[str, int]) -> str:
    item_id = obj.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise _err(path, f"line {lineno}: 'id' must be a non-empty string, got {item_id!r}")
    if item_id in seen:
        raise _err(path, f"line {lineno}: duplicate id {item_id!r} (first on line {seen[item_id]})")
    seen[item_id] = lineno
    return item_id


@dataclass(frozen=True)
class Dataset:
    """Verified dataset rows in file order."""

    name: str
    task: str
    language: str
    rows: tuple[Mapping[str, Any], ...]
    sha256: str
    path: str

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(str(r["id"]) for r in self.rows)

    def column(self, name: str) -> list[Any]:
        return [r[name] for r in self.rows]

    def provenance(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "language": self.language,
            "n": len(self.rows),
            "sha256": self.sha256,
            "path": self.path,
        }


@dataclass(frozen=True)
class Predictions:
    """Verified predictions of one system, keyed by item id, aligned to the dataset."""

    system: str
    by_id: Mapping[str, str]
    sha256: str
    path: str
    meta: Mapping[str, Any]

    def aligned(self, ids: Sequence[str]) -> list[str]:
        return [self.by_id[i] for i in ids]

    def provenance(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "sha256": self.sha256,
            "path": self.path,
            "n": len(self.by_id),
            **{k: v for k, v in self.meta.items() if k not in ("path", "sha256")},
        }


def _display(p: Path) -> str:
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def load_dataset(manifest: Manifest | str | Path) -> Dataset:
    """The manifest's dataset, hash-verified; every declared field present with its type."""
    m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    digest = _verify(m.data_path, m.data_sha256, m.path)
    seen: dict[str, int] = {}
    rows = []
    for lineno, obj in _jsonl(m.data_path):
        item_id = _check_id(m.data_path, lineno, obj, seen)
        for fname, ftype in m.fields.items():
            v = obj.get(fname)
            ok = isinstance(v, str) if ftype == "str" else (
                isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v))
            if not ok:
                raise _err(
                    m.data_path,
                    f"line {lineno} (id {item_id!r}): field {fname!r} must be {ftype}, "
                    f"got {v!r:.60}",
                )
        rows.append(obj)
    if not rows:
        raise _err(m.data_path, "dataset is empty")
    return Dataset(m.name, m.task, m.language, tuple(rows), digest, _display(m.data_path))


def load_predictions(
    manifest: Manifest | str | Path, system: str, *, ids: Sequence[str]
) -> Predictions:
    """Predictions of ``system`` for exactly ``ids``: hash-verified, no duplicates, none missing
    or extra."""
    m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    if system not in m.predictions:
        raise _err(
            m.path, f"no predictions for system {system!r}; pinned systems: {list(m.predictions)}"
        )
    spec = m.predictions[system]
    path = m.path.parent / str(spec["path"])
    digest = _verify(path, str(spec["sha256"]), m.path)
    seen: dict[str, int] = {}
    by_id: dict[str, str] = {}
    for lineno, obj in _jsonl(path):
        item_id = _check_id(path, lineno, obj, seen)
        pred = obj.get("prediction")
        if not isinstance(pred, str):
            raise _err(
                path,
                f"line {lineno} (id {item_id!r}): 'prediction' must be a string, got {pred!r:.60}",
            )
        by_id[item_id] = pred
    wanted = list(ids)
    missing = [i for i in wanted if i not in by_id]
    unknown = sorted(set(by_id) - set(wanted))
    if missing:
        raise _err(
            path, f"{len(missing)} of {len(wanted)} dataset ids have no prediction: {missing[:10]}"
        )
    if unknown:
        raise _err(
            path,
            f"{len(unknown)} predictions have ids the dataset does not contain: {unknown[:10]}",
        )
    return Predictions(system, by_id, digest, _display(path), dict(spec))


def export_predictions(
    manifest: Manifest | str | Path, system: str, predictions: Mapping[str, str], out_dir: Path,
    *, meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write generated ``predictions`` as a pinned predictions set a later run can score
    without the model: ``out_dir`` gets a copy of the dataset file, ``predictions.<system>.jsonl``
    (in dataset order) and a ``manifest.json`` pinning both by sha256 (``meta``: what produced
    them, e.g. the model pin and prompt hash). Returns the manifest path; read it back with
    :func:`load_predictions`. Every dataset id needs exactly one prediction."""
    m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    ds = load_dataset(m)
    missing = [i for i in ds.ids if i not in predictions]
    unknown = sorted(set(predictions) - set(ds.ids))
    if missing or unknown or not all(isinstance(v, str) for v in predictions.values()):
        raise _err(m.path, f"cannot export predictions of {system!r}: ids without a prediction "
                   f"{missing[:10]}, ids not in the dataset {unknown[:10]} (or a non-string)")
    if not system or "/" in system or system.startswith("."):
        raise _err(m.path, f"system name {system!r} cannot name a file")
    out_dir.mkdir(parents=True, exist_ok=True)
    data_text = m.data_path.read_text(encoding="utf-8")
    atomic_write_text(out_dir / "data.jsonl", data_text)
    name = f"predictions.{system}.jsonl"
    lines = "".join(json.dumps({"id": i, "prediction": predictions[i]}, ensure_ascii=False) + "\n"
                    for i in ds.ids)
    atomic_write_text(out_dir / name, lines)
    data = json.loads(m.path.read_text(encoding="utf-8"))
    data["data"] = {"path": "data.jsonl", "sha256": sha256_file(out_dir / "data.jsonl")}
    data["predictions"] = {system: {**dict(meta or {}), "path": name,
                                    "sha256": sha256_file(out_dir / name)}}
    target = out_dir / "manifest.json"
    atomic_write_text(target, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return target


def pin(manifest_path: str | Path) -> list[tuple[str, str, str]]:
    """Rewrite the manifest's sha256 values to match the files; returns (file, old, new) changes."""
    p = Path(manifest_path)
    if p.is_dir():
        p = p / "manifest.json"
    data = json.loads(p.read_text(encoding="utf-8"))
    changes = []
    entries = [data["data"], *data.get("predictions", {}).values()]
    for entry in entries:
        new = sha256_file(p.parent / entry["path"])
        if entry.get("sha256") != new:
            changes.append((entry["path"], str(entry.get("sha256")), new))
            entry["sha256"] = new
    atomic_write_text(p, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return changes


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or args[0] != "pin":
        print(
            "usage: python -m llaso_pytest.llm.predictions pin MANIFEST [MANIFEST ...]",
            file=sys.stderr,
        )
        return 2
    for m in args[1:]:
        for path, old, new in pin(m):
            print(f"{m}: {path}: {old[:16]} -> {new[:16]}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
