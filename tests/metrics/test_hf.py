"""The Hugging Face evaluate adapter, with a metric script shipped next to this test."""

from __future__ import annotations

from pathlib import Path

import pytest

from llaso_pytest import metrics
from llaso_pytest.errors import MetricInputError

SCRIPT_DIR = Path(__file__).parent / "hf_metrics" / "word_overlap"
REFS = ["a b c d", "x y", "p q r", "m", "k l"]
HYPS = ["a b", "x y", "z", "m", "l"]
EXPECTED = [0.5, 1.0, 0.0, 1.0, 0.5]


def test_load_from_local_path() -> None:
    pytest.importorskip("evaluate")
    res = metrics.hf_metric(SCRIPT_DIR, REFS, HYPS, n_boot=200, ids=list("abcde"))
    assert list(res.scores) == EXPECTED
    assert res.value == pytest.approx(sum(EXPECTED) / 5)
    assert res.extra["corpus_value"] == pytest.approx(res.value)
    assert res.ci is not None and res.item_ids == tuple("abcde")
    f = res.signature.fields
    assert f["hf_metric"] == "word_overlap" and f["key"] == "overlap"
    assert f["source"].startswith("path-sha256:")


def test_already_loaded_module() -> None:
    class Fake:
        name = "fake"

        def compute(self, predictions: list[str], references: list[str]) -> dict[str, float]:
            hits = sum(p == r for p, r in zip(predictions, references, strict=True))
            return {"acc": hits / len(predictions), "n": len(predictions)}

    res = metrics.hf_metric(Fake(), ["a", "b", "c", "d", "e"], ["a", "x", "c", "d", "e"],
                            key="acc", n_boot=0)
    assert res.value == pytest.approx(0.8) and res.signature.fields["source"] == "module"
    with pytest.raises(MetricInputError, match="pass key="):
        metrics.hf_metric(Fake(), ["a"], ["a"], n_boot=0)


def test_hub_name_is_refused_with_a_clear_message() -> None:
    with pytest.raises(MetricInputError, match="not an existing local path.*Hub"):
        metrics.hf_metric("bleu", ["a"], ["a"])
    with pytest.raises(MetricInputError, match="local path or a loaded evaluate module"):
        metrics.hf_metric(42, ["a"], ["a"])
