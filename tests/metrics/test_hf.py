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
            return {"acc": sum(p == r for p, r in zip(predictions, references)) / len(predictions),
                    "n": len(predictions)}

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


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """socket.connect refuses and records every attempt (the Hub is never asked)."""
    import socket

    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError(f"test: network disabled (connect to {address!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    return attempts


def test_a_folder_without_its_script_is_an_error_not_a_hub_lookup(
        tmp_path: Path, no_network: list[object]) -> None:
    pytest.importorskip("evaluate")
    folder = tmp_path / "my_metric"
    folder.mkdir()
    (folder / "metric.py").write_text((SCRIPT_DIR / "word_overlap.py").read_text())
    with pytest.raises(MetricInputError) as err:
        metrics.hf_metric(folder, REFS, HYPS, n_boot=0)
    msg = str(err.value)
    assert f"the folder {str(folder)!r} has no metric script 'my_metric.py'" in msg
    assert "['metric.py']" in msg and "never falls back to the Hugging Face Hub" in msg
    assert no_network == []


def test_a_file_that_is_not_a_script_is_refused(tmp_path: Path,
                                                no_network: list[object]) -> None:
    pytest.importorskip("evaluate")
    notes = tmp_path / "word_overlap.txt"
    notes.write_text("not python")
    with pytest.raises(MetricInputError, match="is not a metric script"):
        metrics.hf_metric(notes, REFS, HYPS, n_boot=0)
    assert no_network == []


@pytest.mark.parametrize("spelling", ["dir/", ".", "script"])
def test_local_scripts_load_without_the_network(no_network: list[object], spelling: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("evaluate")
    import os

    if spelling == "dir/":
        target = f"{SCRIPT_DIR}/"
    elif spelling == ".":
        monkeypatch.chdir(SCRIPT_DIR)
        target = "."
    else:
        target = str(SCRIPT_DIR / "word_overlap.py")
    res = metrics.hf_metric(target, REFS, HYPS, n_boot=0)
    assert res.scores is not None and list(res.scores) == EXPECTED and no_network == []
    assert "HF_HUB_OFFLINE" not in os.environ  # switched on for the call only
