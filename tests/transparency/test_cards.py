"""Model and data cards: the shipped fixtures' cards are complete and current (CI), cards
parse back with huggingface_hub to the recorded values, stale cards are detected after a
dataset edit, written sections survive regeneration."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from llaso_pytest.cli import main

ROOT = Path(__file__).resolve().parents[2]
LLM_SETS = ["qa", "summarization-en", "summarization-ja", "translation-ja-en"]


@pytest.fixture(autouse=True)
def _hub() -> None:
    pytest.importorskip("huggingface_hub")


@pytest.mark.parametrize("name", LLM_SETS)
def test_shipped_data_cards_are_complete_and_current(name: str, capsys) -> None:
    d = ROOT / "fixtures" / "llm" / name
    assert main(["card", "data", str(d), "-o", str(d / "DATACARD.md"), "--check"]) == 0, \
        capsys.readouterr().err
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(d / "DATACARD.md")
    manifest = json.loads((d / "manifest.json").read_text())
    assert card.data.llaso["sha256"] == manifest["data"]["sha256"]
    for png in (d / "DATACARD_profile").glob("*.png"):
        assert f"DATACARD_profile/{png.name}" in card.text  # every plot is shown


def _filled(text: str) -> str:
    import re

    return re.sub(r"TODO\(llaso\):[^\n]*", "Written by a person.", text)


def test_stale_card_detected_after_a_dataset_edit(tmp_path: Path, capsys) -> None:
    from llaso_pytest.llm.predictions import pin

    d = tmp_path / "qa"
    shutil.copytree(ROOT / "fixtures" / "llm" / "qa", d)
    card = d / "DATACARD.md"
    card.unlink()
    shutil.rmtree(d / "DATACARD_profile")
    assert main(["card", "data", str(d), "-o", str(card), "--check"]) == 1
    assert "card: missing" in capsys.readouterr().err
    assert main(["card", "data", str(d), "-o", str(card)]) == 0
    assert main(["card", "data", str(d), "-o", str(card), "--check"]) == 1
    err = capsys.readouterr().err
    assert "section 'Personal and sensitive information': unfilled" in err
    card.write_text(_filled(card.read_text()))
    assert main(["card", "data", str(d), "-o", str(card), "--check"]) == 0
    # edit one item and re-pin the manifest: the card is now stale, naming the field
    rows = (d / "data.jsonl").read_text().splitlines()
    rows[0] = rows[0].replace("Mediterranean Sea.", "Mediterranean Sea (edited).")
    (d / "data.jsonl").write_text("\n".join(rows) + "\n")
    pin(d / "manifest.json")
    capsys.readouterr()
    assert main(["card", "data", str(d), "-o", str(card), "--check"]) == 1
    assert "llaso.sha256: stale: the card says" in capsys.readouterr().err
    # regenerating keeps the written sections and makes it current again
    assert main(["card", "data", str(d), "-o", str(card)]) == 0
    assert "Written by a person." in card.read_text()
    assert main(["card", "data", str(d), "-o", str(card), "--check"]) == 0


def test_speech_data_card_profile_counts_what_the_manifest_says(tmp_path: Path) -> None:
    from huggingface_hub import DatasetCard

    from llaso_pytest.cards.data import data_card

    manifest = ROOT / "fixtures" / "asr" / "flite_harvard.json"
    text = data_card(manifest, out=tmp_path / "README.md")
    card = DatasetCard(text)
    raw = json.loads(manifest.read_text())
    speakers = Counter(u["speaker"] for u in raw["utterances"])
    for speaker, count in speakers.items():
        assert f"| {speaker} | {count} | {100 * count / len(raw['utterances']):.0f}% |" \
            in card.text
    assert card.data.llaso["n"] == len(raw["utterances"])
    assert card.data.task_categories == ["automatic-speech-recognition"]
    assert (tmp_path / "README_profile" / "duration-s.svg").is_file()
    assert "Personal and sensitive information" in card.text and "TODO(llaso):" in card.text


RECORDING_TEST = '''
from llaso_pytest import metrics

def test_em(record_metric, record_provenance):
    record_provenance("datasets", {"toy": {"name": "toy", "task": "qa", "n": 8,
                                           "sha256": "ab" * 32, "path": "toy.jsonl"}})
    refs = ["a", "b", "c", "d", "e", "f", "g", "h"]
    for system, hyps in (("sys-a", refs), ("sys-b", ["a", "x", "c", "x", "e", "f", "x", "h"])):
        r = metrics.exact_match(refs, hyps, signature_extra={"data": "toy", "system": system})
        record_metric(r.__class__(**{**r.__dict__, "name": f"em_{system}"}))
'''


def test_model_card_round_trip_and_staleness(pytester: pytest.Pytester, capsys) -> None:
    from huggingface_hub import ModelCard

    from llaso_pytest.record import read_record

    pytester.makepyfile(test_rec=RECORDING_TEST)
    rec = pytester.path / "run.json"
    pytester.runpytest_inprocess("-p", "no:cacheprovider", f"--llaso-out={rec}"
                                 ).assert_outcomes(passed=1)
    out = pytester.path / "MODEL_CARD.md"
    assert main(["card", "model", str(rec), "-o", str(out)]) == 2
    assert "results of 2 models (sys-a, sys-b); choose one with --model" in \
        capsys.readouterr().err
    assert main(["card", "model", str(rec), "--model", "sys-b", "-o", str(out)]) == 0
    card = ModelCard.load(out)
    (ev,) = card.data.eval_results
    recorded = read_record(rec).tests[0].results[1]
    assert recorded["name"] == "em_sys-b"
    assert ev.metric_value == recorded["value"] and ev.metric_args["n"] == recorded["n"]
    assert ev.metric_args["ci"] == recorded["ci"]
    assert ev.metric_config == recorded["signature"]["text"]
    assert ev.dataset_revision == "ab" * 32 and ev.task_type == "question-answering"
    assert card.data.model_name == "sys-b"
    assert "## Bias, risks and limitations" in card.text
    assert main(["card", "model", str(rec), "--model", "sys-b", "-o", str(out), "--check"]) == 1
    assert "section 'Bias, risks and limitations': unfilled" in capsys.readouterr().err
    out.write_text(_filled(out.read_text()))
    assert main(["card", "model", str(rec), "--model", "sys-b", "-o", str(out), "--check"]) == 0
    # a later run on an edited dataset: the card is stale against that record
    data = json.loads(rec.read_text())
    data["provenance"]["datasets"]["toy"]["sha256"] = "cd" * 32
    rec2 = pytester.path / "run2.json"
    rec2.write_text(json.dumps(data))
    assert main(["card", "model", str(rec2), "--model", "sys-b", "-o", str(out),
                 "--check"]) == 1
    assert "llaso.datasets.toy: stale" in capsys.readouterr().err
    # regenerating keeps what the person wrote
    assert main(["card", "model", str(rec2), "--model", "sys-b", "-o", str(out)]) == 0
    assert "Written by a person." in out.read_text()
    assert ModelCard.load(out).data.eval_results[0].dataset_revision == "cd" * 32
