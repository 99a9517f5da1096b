"""MetricResult, Signature, aggregators, from_values and the JSON record (Contract 1 and 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llaso_pytest import metrics
from llaso_pytest.errors import LlasoWarning, MetricInputError
from llaso_pytest.metrics import MetricResult, Signature
from llaso_pytest.metrics.base import RESAMPLING_FIELDS

REFS = ["the cat sat on the mat", "a dog ran", "hello world", "it is fine", "x y z", "q r"]
HYPS = ["the cat sat on a mat", "a dog ran", "hello", "it is fine", "x z", "q r s"]


def test_signature_text_fields_and_diff() -> None:
    a = Signature({"metric": "wer", "normalizer": "basic", "n_boot": 1000, "seed": 0})
    b = Signature({"metric": "wer", "normalizer": "whisper", "n_boot": 1000, "seed": 1, "x": 1})
    assert str(a) == "wer|norm:basic|boot:1000|seed:0"
    assert a.fields["normalizer"] == "basic"
    assert a.diff(b) == ["normalizer", "seed", "x"]
    assert a.diff(b, ignore=RESAMPLING_FIELDS) == ["normalizer", "x"]
    assert a.diff(a) == []
    assert Signature.from_record(a.to_record()) == a
    with pytest.raises(ValueError, match="metric"):
        Signature({"normalizer": "basic"})


def test_result_contract_and_json_roundtrip() -> None:
    res = metrics.wer(REFS, HYPS, ids=[f"u{i}" for i in range(6)], groups=list("aabcde"),
                      signature_extra={"prompt_sha": "abc"}, n_boot=300)
    assert isinstance(res, MetricResult)
    assert res.name == "wer" and res.higher_is_better is False and res.aggregate == "ratio"
    assert res.n == 6 and res.item_ids[0] == "u0" and res.groups == tuple("aabcde")
    assert list(res.stats) == ["errors", "ref_words"]
    assert res.signature.fields["prompt_sha"] == "abc"
    rec = json.loads(json.dumps(res.to_record()))
    assert set(rec) >= {"name", "value", "ci", "confidence", "n", "higher_is_better", "signature",
                        "aggregate", "items", "extra"}
    assert rec["signature"]["text"] == str(res.signature)
    assert rec["items"]["stats"]["errors"] == res.stats["errors"].tolist()
    back = MetricResult.from_record(rec)
    assert back == res and back.value == res.value and back.ci == res.ci
    # the comparer's path: re-aggregate stored sums without knowing the metric
    summed = np.array([sum(rec["items"]["stats"][k]) for k in rec["items"]["stats"]])
    assert metrics.aggregate(rec["aggregate"], summed)[0] == res.value
    with pytest.raises(ValueError, match="lacks aggregate"):
        MetricResult.from_record({k: v for k, v in rec.items() if k != "aggregate"})


def test_comparisons_use_value() -> None:
    res = metrics.wer(REFS, HYPS, n_boot=0)
    assert res < 0.5 and res <= res.value and res > 0.01 and res >= res.value
    assert res == res.value and float(res) == res.value
    assert not (res < 0.01)
    assert "wer=" in repr(res)


def test_signature_extra_cannot_override_metric() -> None:
    with pytest.raises(ValueError, match="metric"):
        metrics.wer(REFS, HYPS, signature_extra={"metric": "cer"})
    with pytest.raises(MetricInputError, match=r"signature_extra\['recipe'\] is dict"):
        metrics.wer(REFS, HYPS, signature_extra={"recipe": {"a": 1}})


def test_from_values() -> None:
    plain = metrics.from_values("latency_ms", 12.5, higher_is_better=False)
    assert plain.value == 12.5 and plain.ci is None and plain.n == 1
    items = metrics.from_values("judge", items={"a": 1.0, "b": 0.0, "c": 1.0, "d": 1.0, "e": 0.5})
    assert items.value == pytest.approx(0.7) and items.item_ids == ("a", "b", "c", "d", "e")
    assert items.ci is not None and items.aggregate == "mean"
    with pytest.warns(LlasoWarning, match="n=3"):
        few = metrics.from_values("judge", items=[1.0, 0.0, 1.0])
    assert few.ci is None
    with pytest.raises(MetricInputError, match="value=0.9 but the mean of its 3 items"):
        metrics.from_values("judge", 0.9, items=[1.0, 0.0, 1.0], n_boot=0)
    with pytest.raises(MetricInputError, match="item '1'.*NoneType"):
        metrics.from_values("judge", items=[1.0, None], n_boot=0)  # type: ignore[list-item]
    with pytest.raises(MetricInputError, match="finite"):
        metrics.from_values("judge", float("nan"))


def test_aggregate_registry_errors() -> None:
    with pytest.raises(ValueError, match="unknown aggregate 'median'; known aggregates: bleu, "):
        metrics.aggregate("median", np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"needs a \(B, 2\) array"):
        metrics.aggregate("ratio", np.ones((1, 3)))
    out = metrics.aggregate("ratio", np.array([[1.0, 4.0], [2.0, 4.0]]))
    np.testing.assert_array_equal(out, [0.25, 0.5])


def test_all_metric_functions_share_the_common_options() -> None:
    import inspect

    common = {"ids", "groups", "confidence", "n_boot", "seed", "signature_extra"}
    for fn in (metrics.wer, metrics.cer, metrics.mer, metrics.wil, metrics.bleu, metrics.chrf,
               metrics.ter, metrics.rouge, metrics.exact_match, metrics.token_f1,
               metrics.regex_match):
        params = inspect.signature(fn).parameters
        assert common <= set(params), fn.__name__
        assert all(params[p].kind is inspect.Parameter.KEYWORD_ONLY for p in common), fn.__name__
        assert params["seed"].default == 0 and params["n_boot"].default == 1000


def test_duplicate_ids_are_named_by_every_entry_point() -> None:
    from llaso_pytest.metrics.base import from_values

    for call in (
        lambda: metrics.exact_match(["a", "b"], ["a", "b"], ids=["x", "x"]),
        lambda: metrics.wer(["a", "b"], ["a", "b"], ids=["x", "x"]),
        lambda: from_values("m", items=[1.0, 2.0], ids=["x", "x"]),
    ):
        with pytest.raises(MetricInputError, match="duplicate ids: 'x'"):
            call()


def test_alignment_looks_items_up_by_id() -> None:
    res = metrics.wer(["a b", "c d", "e f"], ["a b", "c x", "e f"], ids=[2, 0, 1], n_boot=0)
    assert "c" in res.alignment(0) and "x" in res.alignment("0")  # id 0, not the first item
    assert res.alignment(0) == res.alignment("0")
    with pytest.raises(KeyError, match="no item with id '5'"):
        res.alignment(5)


def test_signature_extra_and_seed_are_validated_everywhere() -> None:
    from llaso_pytest.metrics.base import from_values

    with pytest.raises(ValueError, match=r"may not override \['metric'\]"):
        from_values("lat", 1.0, signature_extra={"metric": "bleu"})
    with pytest.raises(MetricInputError, match=r"signature_extra\['x'\] is dict"):
        from_values("lat", 1.0, signature_extra={"x": {"y": 1}})
    for seed in (-1, 1.7, "abc", True):
        with pytest.raises(ValueError, match="seed must be an int >= 0 or None"):
            metrics.exact_match(["a"] * 6, ["a"] * 6, seed=seed)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="seed must be an int >= 0 or None"):
            metrics.exact_match(["a"] * 6, ["a"] * 6, seed=seed, n_boot=0)  # type: ignore[arg-type]
