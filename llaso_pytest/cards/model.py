"""Model cards from a run record: Hugging Face ``ModelCard`` whose ``model-index`` carries
every result of the model (value, interval, n, signature), the evaluation data with hashes,
the provenance that matters, and the sections a reviewer expects (TODO where unknown)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llaso_pytest.cards.sections import TODO, CardError, Section, cell, compose, split_sections

__all__ = ["MODEL_REQUIRED", "model_card", "model_card_expected", "model_results"]

#: Written sections a model card must have filled for ``--check``.
MODEL_REQUIRED = ("Model details", "Intended uses and limitations",
                  "Bias, risks and limitations", "Training data")
#: Signature fields that name the model (system) a result belongs to.
MODEL_FIELDS = ("system", "model")
#: Our task names (dataset provenance ``task``) -> the Hub's task types.
HUB_TASKS = {"qa": "question-answering", "summarization": "summarization",
             "translation": "translation", "asr": "automatic-speech-recognition"}


def _model_of(result: Any) -> str | None:
    for f in MODEL_FIELDS:
        v = result.signature.fields.get(f)
        if v is not None:
            return str(v)
    return None


def model_results(record: Any, *, source: str, model: str | None
                  ) -> tuple[str, list[tuple[str, Any]]]:
    """``(model name, [(nodeid, ResultRecord)])``: the record's results of one model (all
    results when none names a model)."""
    from llaso_pytest.results import read_results

    results = [(r.nodeid, r) for r in read_results(record, source=source).values()]
    names = sorted({m for _, r in results if (m := _model_of(r)) is not None})
    if model is None:
        if len(names) > 1:
            raise CardError(f"{source}: results of {len(names)} models ({', '.join(names)}); "
                            "choose one with --model")
        model = names[0] if names else "model"
    elif model not in names:
        raise CardError(f"{source}: no results of model {model!r} (signature field system/"
                        f"model); the record has: {', '.join(names) or 'none named'}")
    picked = [(nodeid, r) for nodeid, r in results if not names or _model_of(r) == model]
    if not picked:
        raise CardError(f"{source}: no metric results to put in a card")
    return model, picked


def _dataset_for(result: Any, datasets: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    name = result.signature.fields.get("data") or result.signature.fields.get("dataset")
    if name is not None and str(name) in datasets:
        return str(name), datasets[str(name)]
    if len(datasets) == 1:
        return next(iter(datasets.items()))
    return str(name or "unknown"), {}


def model_card(record_path: str | Path, *, model: str | None = None,
               out: str | Path | None = None) -> str:
    """The model card text for ``model``'s results in the run record at ``record_path``."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    from llaso_pytest.record import RecordError, read_record

    try:
        record = read_record(record_path)
    except RecordError as exc:
        raise CardError(str(exc)) from None
    source = str(record_path)
    name, picked = model_results(record, source=source, model=model)
    prov = record.provenance
    datasets = prov.get("datasets") or {}
    evals = []
    rows = ["| test | metric | value | 95% interval | n | dataset | signature |",
            "| --- | --- | ---: | --- | ---: | --- | --- |"]
    for nodeid, r in picked:
        ds_name, ds = _dataset_for(r, datasets)
        ci = None if r.ci is None else [float(r.ci[0]), float(r.ci[1])]
        evals.append(EvalResult(
            task_type=HUB_TASKS.get(str(ds.get("task")), str(ds.get("task") or "other")),
            dataset_type=ds_name, dataset_name=ds_name,
            dataset_revision=ds.get("sha256") or ds.get("manifest_sha256"),
            metric_type=r.name, metric_value=float(r.value), metric_name=r.name,
            metric_config=r.signature.text,
            metric_args={"ci": ci, "confidence": r.confidence, "n": r.n,
                         "higher_is_better": r.higher_is_better, "test": nodeid,
                         "run_id": record.run_id}))
        ci_text = "none (n too small)" if ci is None else f"[{ci[0]:.4g}, {ci[1]:.4g}]"
        rows.append(f"| `{cell(nodeid)}` | {cell(r.name)} | {r.value:.4g} | {ci_text} | "
                    f"{r.n} | {cell(ds_name)} | `{cell(r.signature.text)}` |")
    used = sorted({e.dataset_name for e in evals})
    data_rows = ["| dataset | items | sha256 | path |", "| --- | ---: | --- | --- |"]
    for d in used:
        ds = datasets.get(d, {})
        data_rows.append(f"| {d} | {ds.get('n', '?')} | `{ds.get('sha256') or '?'}` | "
                         f"`{ds.get('path', '?')}` |")
    sections = [
        Section("Evaluation results", "\n".join(rows)),
        Section("Evaluation data", "\n".join(data_rows)),
        Section("Provenance", _provenance(record, prov, name)),
        Section("Model details", f"{TODO} what the model is (architecture, size, version or "
                "checkpoint), who made it, its licence.", kind="written"),
        Section("Intended uses and limitations", f"{TODO} what it is for and where it "
                "must not be used.", kind="written"),
        Section("Bias, risks and limitations", f"{TODO} known failure modes and groups it "
                "serves worse; the evaluation above covers only the data listed.",
                kind="written"),
        Section("Training data", f"{TODO} what it was trained on (a leakage check against "
                "it: `llaso leakage`).", kind="written"),
    ]
    existing: dict[str, str] = {}
    if out is not None and Path(out).is_file():
        existing = split_sections(ModelCard.load(out).text)
    data = ModelCardData(model_name=name, eval_results=evals, tags=["llaso-pytest"],
                         llaso={"run_id": record.run_id, "datasets": {
                             d: (datasets.get(d) or {}).get("sha256") for d in used}})
    text = compose(f"Model card: {name}", "Generated by llaso-pytest from run record "
                   f"`{record.run_id}`. Sections marked {TODO} are for a person to write; "
                   "`llaso card model --check` fails while one is left.", sections, existing)
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{text}"))


def _provenance(record: Any, prov: Mapping[str, Any], name: str) -> str:
    git = prov.get("git") or {}
    pkgs = prov.get("packages") or {}
    det = prov.get("deterministic") or {}
    preds = {k: v for k, v in (prov.get("predictions") or {}).items()
             if isinstance(v, Mapping) and v.get("system") == name}
    lines = ["| what | value |", "| --- | --- |",
             f"| run | `{record.run_id}` ({record.started_at}) |",
             f"| git | `{git.get('commit', '?')}`{' (dirty)' if git.get('dirty') else ''} |",
             f"| seed | {prov.get('seed', '?')} |",
             f"| deterministic | {det.get('enabled', '?')} |",
             f"| platform | {(prov.get('platform') or {}).get('platform', '?')} |",
             f"| cpu | {_short(prov.get('cpu'))} |", f"| gpu | {_short(prov.get('gpu'))} |"]
    for key, pin in (prov.get("models") or {}).items():
        lines.append(f"| model pin `{key}` | {_short(pin)} |")
    for key, p in preds.items():
        lines.append(f"| predictions `{key}` | `{p.get('sha256')}` ({p.get('model', '')}) |")
    wanted: Sequence[str] = ("llaso-pytest", "numpy", "sacrebleu", "jiwer", "rouge-score",
                             "faster-whisper", "ctranslate2", "pocketsphinx", "torch", "openai")
    lines.append("| packages | " + ", ".join(f"{k} {pkgs[k]}" for k in wanted if k in pkgs)
                 + " |")
    return "\n".join(lines)


def _short(value: Any, limit: int = 120) -> str:
    if value is None:
        return "none recorded"
    text = value if isinstance(value, str) else ", ".join(
        f"{k}: {v}" for k, v in value.items()) if isinstance(value, Mapping) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def model_card_expected(record_path: str | Path, *, model: str | None = None
                        ) -> dict[tuple[str, ...], Any]:
    """The dataset hashes a current card of ``model`` must carry (from the record)."""
    from llaso_pytest.record import read_record

    record = read_record(record_path)
    _, picked = model_results(record, source=str(record_path), model=model)
    datasets = record.provenance.get("datasets") or {}
    names = sorted({_dataset_for(r, datasets)[0] for _, r in picked})
    return {("llaso", "datasets", d): (datasets.get(d) or {}).get("sha256") for d in names}
