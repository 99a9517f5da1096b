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

from llaso_pytest.llm.predictions import Dataset, load_dataset, load_manifest, load_predictions
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
            from llaso_pytest.llm.client import ChatRequest

            client = request.getfixturevalue("llm_client")
            t = prompt(str(manifest.predictions[system].get("prompt", manifest.task)))
            params = {"temperature": 0.0, "seed": llaso_seed, "max_tokens": 256}
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
                    f"  {o.id}: {o.error or 'cut off at max_tokens=256 (finish_reason=length)'}"
                    for o in failed[:10])
                pytest.fail(
                    f"{len(failed)} of {len(results)} generations failed for {ds.name}; "
                    f"a score over the rest would not be comparable:\n{lines}",
                    pytrace=False,
                )
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
