"""Fixtures of the shipped LLM suites: pinned datasets, and model outputs in either mode.

Predictions mode (the default) evaluates the pinned prediction files in ``fixtures/llm/``
(hash-verified); live mode (``LLASO_LLM_BASE_URL`` and ``LLASO_LLM_MODEL`` set, or
``--llaso-llm-mode=live``) generates the outputs with the model under test through the pinned
prompt templates. Either way the signature names what produced the outputs (prediction file
hash, or model + prompt hash), and the run record's provenance lists datasets, predictions and
prompts with their hashes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llaso_pytest.llm.predictions import (
    Dataset,
    export_predictions,
    load_dataset,
    load_manifest,
    load_predictions,
)
from llaso_pytest.llm.prompts import PromptTemplate, default_prompt_dir, load_prompt

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "llm"
PROMPTS = default_prompt_dir()


@dataclass(frozen=True)
class Outputs:
    """A system's outputs aligned to a dataset, with what produced them."""

    dataset: Dataset
    system: str
    predictions: list[str]
    signature_extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return list(self.dataset.ids)


def _variables(task: str, row: dict[str, Any]) -> dict[str, str]:
    if task == "qa":
        return {"context": row["context"], "question": row["question"]}
    if task == "summarization":
        return {"document": row["document"]}
    if task == "translation":
        return {
            "source_lang": row["source_lang"],
            "target_lang": row["target_lang"],
            "source": row["source"],
        }
    raise ValueError(f"no prompt variables defined for task {task!r}")


def _generate(client: Any, ds: Dataset, t: PromptTemplate, *, seed: int, max_tokens: int,
             stream: bool = False) -> list[Any]:
    """Generate one output per dataset row with ``client`` (temperature 0, seeded); fail the
    test naming every item that failed or was cut at ``max_tokens``."""
    from llaso_pytest.llm.client import ChatRequest

    params: dict[str, Any] = {"temperature": 0.0, "seed": seed, "max_tokens": max_tokens}
    if stream:
        params["stream"] = True
    reqs = [
        ChatRequest(
            id=str(r["id"]),
            messages=tuple(t.render(_variables(ds.task, dict(r)))),
            params=params,
            prompt_ref=t.ref,
        )
        for r in ds.rows
    ]
    results = client.complete(reqs)
    # a reply cut at max_tokens is not the model's answer: scoring it would show the
    # token limit as a quality regression
    failed = [o for o in results if not o.ok or o.finish_reason == "length"]
    if failed:
        lines = "\n".join(
            f"  {o.id}: {o.error or f'cut off at max_tokens={max_tokens} (finish_reason=length)'}"
            for o in failed[:10])
        pytest.fail(
            f"{len(failed)} of {len(results)} generations failed for {ds.name}; "
            f"a score over the rest would not be comparable:\n{lines}",
            pytrace=False,
        )
    return list(results)


@pytest.fixture(scope="session")
def generate() -> Callable[..., list[Any]]:
    """``generate(client, dataset, template, seed=, max_tokens=, stream=False)``: one output per
    row; fails the test naming every failed or cut item."""
    return _generate


#: the token limit of each task in the live suite: QA answers are a span, summaries one
#: sentence; a reply cut at the limit fails its item (with its id)
LIVE_MAX_TOKENS = {"qa": 64, "summarization": 128}


@pytest.fixture(scope="session")
def live_max_tokens() -> dict[str, int]:
    """The token limit of each task in the live suite."""
    return dict(LIVE_MAX_TOKENS)


@pytest.fixture(scope="session")
def live(local_llm_client: Any, llaso_local_llm: Any, prompt: Callable[[str], Any],
         dataset: Callable[[str], Any], llaso_seed: int, llaso_predictions_dir: Path,
         record_provenance: Callable[[str, Any], None]) -> Callable[[str], Outputs]:
    """``live(set)``: the pinned local LLM's outputs for a pinned dataset (streamed off,
    through the response cache), exported as a pinned predictions set under
    ``.llaso/predictions/<set>/`` that a later run can score without the model."""
    memo: dict[str, Outputs] = {}

    def get(name: str) -> Outputs:
        if name in memo:
            return memo[name]
        manifest = load_manifest(FIXTURES / name)
        ds = dataset(name)
        t = prompt({"qa": "qa", "summarization": "summarize"}[ds.task])
        results = _generate(local_llm_client, ds, t, seed=llaso_seed,
                            max_tokens=LIVE_MAX_TOKENS[ds.task])
        model = str(llaso_local_llm.info["model"])
        weights_sha = next(iter(llaso_local_llm.info["pin"]["weights"].values()))
        preds = {o.id: str(o.content).strip() for o in results}
        placement = llaso_local_llm.info["describe"]
        pinned = export_predictions(
            manifest, model, preds, llaso_predictions_dir / name,
            meta={"model": model, "weights_sha256": weights_sha,
                  "prompt": t.name, "prompt_sha256": t.sha256, "seed": llaso_seed,
                  "device": placement["device"], "dtype": placement["dtype"]})
        exported = load_predictions(pinned, model, ids=ds.ids)  # read back, hash-verified
        record_provenance("predictions", {f"{ds.name}/{model} (generated)": {
            **exported.provenance(), "manifest": str(pinned)}})
        sig = {"data": ds.name, "data_sha256": ds.sha256[:12], "system": model,
               "weights_sha256": str(weights_sha)[:12],
               "device": placement["device"], "dtype": placement["dtype"],
               "deterministic": placement["precision"]["deterministic"], "prompt": t.name,
               "prompt_sha256": t.short_hash, "temperature": 0.0, "gen_seed": llaso_seed,
               "max_tokens": LIVE_MAX_TOKENS[ds.task]}
        memo[name] = Outputs(ds, model, exported.aligned(ds.ids), sig)
        return memo[name]

    return get


@pytest.fixture(scope="session")
def prompt(record_provenance: Callable[[str, Any], None]) -> Callable[[str], PromptTemplate]:
    """``prompt(name)``: a pinned template shipped with llaso-pytest, recorded in the provenance."""

    def get(name: str) -> PromptTemplate:
        t = load_prompt(name, prompt_dir=PROMPTS)
        record_provenance("prompts", {t.name: t.provenance()})
        return t

    return get


@pytest.fixture(scope="session")
def dataset(record_provenance: Callable[[str, Any], None]) -> Callable[[str], Dataset]:
    """``dataset(dirname)``: a hash-verified dataset from fixtures/llm."""

    def get(name: str) -> Dataset:
        ds = load_dataset(FIXTURES / name)
        record_provenance("datasets", {ds.name: ds.provenance()})
        return ds

    return get


@pytest.fixture(scope="session")
def outputs(request: pytest.FixtureRequest, llaso_llm_mode: str, llaso_seed: int,
            dataset: Callable[[str], Dataset], prompt: Callable[[str], PromptTemplate],
            record_provenance: Callable[[str, Any], None]) -> Callable[[str, str], Outputs]:
    """``outputs(dataset_dir, system)``: pinned predictions, or live generations of the model
    under test."""
    memo: dict[tuple[str, str], Outputs] = {}

    def get(name: str, system: str) -> Outputs:
        if (name, system) in memo:
            return memo[(name, system)]
        manifest = load_manifest(FIXTURES / name)
        ds = dataset(name)
        data_sig = {"data": ds.name, "data_sha256": ds.sha256[:12]}
        if llaso_llm_mode == "predictions":
            preds = load_predictions(manifest, system, ids=ds.ids)
            record_provenance("predictions", {f"{ds.name}/{system}": preds.provenance()})
            out = Outputs(ds, system, preds.aligned(ds.ids),
                          {**data_sig, "system": system, "predictions_sha256": preds.sha256[:12]})
        else:
            client = request.getfixturevalue("llm_client")
            t = prompt(str(manifest.predictions[system].get("prompt", manifest.task)))
            results = _generate(client, ds, t, seed=llaso_seed, max_tokens=256)
            ep = client.endpoint
            out = Outputs(
                ds,
                str(ep.model),
                [str(o.content).strip() for o in results],
                {
                    **data_sig,
                    "system": str(ep.model),
                    "prompt": t.name,
                    "prompt_sha256": t.short_hash,
                    "temperature": 0.0,
                    "gen_seed": llaso_seed,
                },
            )
        memo[(name, system)] = out
        return out

    return get


@pytest.fixture(scope="session")
def qa_calibration_set(
    dataset: Callable[[str], Dataset],
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The judge calibration set: the pinned model-b QA answers as judge items, and their
    human pass/fail labels (``qa/human_labels.model-b.csv``)."""
    from llaso_pytest.llm.calibration import load_human_labels

    ds = dataset("qa")
    pinned = load_predictions(load_manifest(FIXTURES / "qa"), "model-b", ids=ds.ids)
    items = {str(r["id"]): {"question": r["question"], "answer": pinned.by_id[str(r["id"])],
                            "reference": r["answers"][0]} for r in ds.rows}
    human = load_human_labels(FIXTURES / "qa" / "human_labels.model-b.csv",
                              allowed=["pass", "fail"])
    return items, human


@pytest.fixture(scope="session")
def llm_fixtures() -> Path:
    """The folder of pinned LLM datasets (fixtures/llm)."""
    return FIXTURES


@pytest.fixture
def qa_systems(
    llaso_llm_mode: str, outputs: Callable[[str, str], Outputs]
) -> tuple[Outputs, Outputs]:
    """Two systems to compare on QA. Predictions mode: pinned model-a vs pinned model-b;
    live mode: the model under test vs the pinned model-a."""
    if llaso_llm_mode == "predictions":
        return outputs("qa", "model-a"), outputs("qa", "model-b")
    live = outputs("qa", "model-a")
    pinned = load_predictions(load_manifest(FIXTURES / "qa"), "model-a", ids=live.ids)
    return live, Outputs(live.dataset, "pinned-model-a", pinned.aligned(live.ids))
