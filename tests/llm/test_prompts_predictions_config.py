"""Prompt templates (hashing, strict rendering), pinned predictions, endpoint configuration."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from llaso_pytest.llm.config import ConfigError, EndpointConfig, redact_url, resolve_endpoint
from llaso_pytest.llm.predictions import (
    PredictionsError,
    load_dataset,
    load_manifest,
    load_predictions,
)
from llaso_pytest.llm.predictions import (
    main as predictions_main,
)
from llaso_pytest.llm.prompts import PromptError, default_prompt_dir, load_prompt

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


# -- prompts ---------------------------------------------------------------------------------------
def test_every_shipped_prompt_loads_and_is_hashed_over_its_text() -> None:
    files = sorted(default_prompt_dir().glob("*.toml"))
    assert len(files) >= 7
    for f in files:
        t = load_prompt(f)
        assert t.sha256 == hashlib.sha256(f.read_bytes().replace(b"\r\n", b"\n")).hexdigest()
        assert t.ref == f"{t.name}@{t.sha256[:12]}"
        assert t.path.endswith(f.name)


def test_line_endings_do_not_change_the_hash(tmp_path: Path) -> None:
    src = default_prompt_dir() / "qa.toml"
    crlf = tmp_path / "qa.toml"
    crlf.write_bytes(src.read_bytes().replace(b"\n", b"\r\n"))
    assert load_prompt(crlf).sha256 == load_prompt(src).sha256


def test_render_is_strict() -> None:
    t = load_prompt("translate")
    msgs = t.render({"source_lang": "Japanese", "target_lang": "English", "source": "猫 {{x}}"})
    assert msgs[0]["content"].startswith(
        "You are a professional translator. Translate the text from Japanese"
    )
    assert "猫 {{x}}" in msgs[1]["content"]  # values are inserted verbatim, never re-expanded
    with pytest.raises(PromptError, match=r"missing \['source'\]"):
        t.render({"source_lang": "a", "target_lang": "b"})
    with pytest.raises(PromptError, match=r"unexpected \['extra'\]"):
        t.render({"source_lang": "a", "target_lang": "b", "source": "c", "extra": "d"})
    with pytest.raises(PromptError, match="must be a string"):
        t.render({"source_lang": "a", "target_lang": "b", "source": 3})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'name = "x"\nkind = "rubric"\nvariables = ["a"]\n'
            '[[messages]]\nrole = "user"\ncontent = "{{a}}"\n',
            "a rubric needs \\[scale\\]",
        ),
        (
            'name = "x"\nkind = "generate"\nvariables = []\n'
            '[[messages]]\nrole = "user"\ncontent = "{{a}}"\n',
            r"placeholders \['a'\] are not declared",
        ),
        (
            'name = "x"\nkind = "generate"\nvariables = ["a", "b"]\n'
            '[[messages]]\nrole = "user"\ncontent = "{{a}}"\n',
            r"declared variables \['b'\] are never used",
        ),
        (
            'name = "x"\nkind = "essay"\nvariables = []\n'
            '[[messages]]\nrole = "user"\ncontent = "hi"\n',
            "`kind` must be",
        ),
        (
            'name = "x"\nkind = "generate"\nvariables = []\n'
            '[[messages]]\nrole = "robot"\ncontent = "hi"\n',
            "message 1 needs `role`",
        ),
        ("name = ", "invalid TOML"),
    ],
)
def test_invalid_templates_name_the_file_and_the_problem(
    tmp_path: Path, body: str, message: str
) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(body)
    with pytest.raises(PromptError, match=message) as info:
        load_prompt(p)
    assert "bad.toml" in str(info.value)


def test_unknown_prompt_lists_the_known_ones() -> None:
    with pytest.raises(PromptError, match=r"not found; templates in .*\['judge_correctness'"):
        load_prompt("no_such_prompt")


# -- predictions -----------------------------------------------------------------------------------
def _copy_qa(tmp_path: Path) -> Path:
    d = tmp_path / "qa"
    shutil.copytree(FIXTURES / "llm" / "qa", d)
    return d


def test_shipped_datasets_and_predictions_verify() -> None:
    for manifest in sorted((FIXTURES / "llm").glob("*/manifest.json")):
        m = load_manifest(manifest)
        ds = load_dataset(m)
        assert len(ds.rows) >= 10 and (manifest.parent / "DATACARD.md").is_file()
        for system in m.systems:
            preds = load_predictions(m, system, ids=ds.ids)
            assert list(preds.by_id) == list(ds.ids)


def test_hash_mismatch_names_file_and_fix(tmp_path: Path) -> None:
    d = _copy_qa(tmp_path)
    p = d / "predictions.model-a.jsonl"
    p.write_text(p.read_text().replace("Lisbon", "Porto"))
    ds = load_dataset(d)
    with pytest.raises(
        PredictionsError, match=r"predictions.model-a.jsonl: sha256 mismatch.*llm.predictions pin"
    ):
        load_predictions(d, "model-a", ids=ds.ids)
    # pinning the deliberate change makes it load again
    assert predictions_main(["pin", str(d)]) == 0
    assert load_predictions(d, "model-a", ids=ds.ids).by_id["qa-007"] == "Porto"


def _write_and_pin(d: Path, lines: list[str]) -> None:
    (d / "predictions.model-a.jsonl").write_text("\n".join(lines) + "\n")
    predictions_main(["pin", str(d)])


def test_duplicate_missing_and_unknown_ids_are_errors(tmp_path: Path) -> None:
    d = _copy_qa(tmp_path)
    ds = load_dataset(d)
    rows = [json.dumps({"id": i, "prediction": "x"}) for i in ds.ids]
    _write_and_pin(d, rows + [rows[3]])
    with pytest.raises(
        PredictionsError, match=r"line 21: duplicate id 'qa-004' \(first on line 4\)"
    ):
        load_predictions(d, "model-a", ids=ds.ids)
    _write_and_pin(d, rows[:-2])
    with pytest.raises(
        PredictionsError, match=r"2 of 20 dataset ids have no prediction: \['qa-019', 'qa-020'\]"
    ):
        load_predictions(d, "model-a", ids=ds.ids)
    _write_and_pin(d, rows + [json.dumps({"id": "zz", "prediction": "x"})])
    with pytest.raises(
        PredictionsError, match=r"1 predictions have ids the dataset does not contain: \['zz'\]"
    ):
        load_predictions(d, "model-a", ids=ds.ids)
    _write_and_pin(d, rows[:1] + [json.dumps({"id": "qa-002", "prediction": None})])
    with pytest.raises(
        PredictionsError, match=r"line 2 \(id 'qa-002'\): 'prediction' must be a string"
    ):
        load_predictions(d, "model-a", ids=ds.ids)
    with pytest.raises(
        PredictionsError, match=r"no predictions for system 'gpt-9'; pinned systems"
    ):
        load_predictions(d, "gpt-9", ids=ds.ids)


def test_dataset_field_types_are_checked(tmp_path: Path) -> None:
    d = _copy_qa(tmp_path)
    data = d / "data.jsonl"
    lines = data.read_text().splitlines()
    row = json.loads(lines[1])
    row["answers"] = "Marie Curie"
    lines[1] = json.dumps(row)
    data.write_text("\n".join(lines) + "\n")
    predictions_main(["pin", str(d)])
    with pytest.raises(
        PredictionsError, match=r"line 2 \(id 'qa-002'\): field 'answers' must be list\[str\]"
    ):
        load_dataset(d)


# -- config ----------------------------------------------------------------------------------------
def test_precedence_option_env_ini_default_and_key_fallback() -> None:
    env = {
        "LLASO_JUDGE_BASE_URL": "http://env/v1/",
        "LLASO_JUDGE_MODEL": "m-env",
        "OPENAI_API_KEY": "sk-openai",
    }
    ep = resolve_endpoint(
        "judge",
        env=env,
        ini={"model": "m-ini", "timeout": "12", "concurrency": "3"},
        overrides={"concurrency": 5},
    )
    assert (ep.base_url, ep.model, ep.timeout, ep.concurrency) == (
        "http://env/v1",
        "m-env",
        12.0,
        5,
    )
    assert ep.api_key == "sk-openai"
    ep2 = resolve_endpoint("judge", env={**env, "LLASO_JUDGE_API_KEY": "sk-judge"})
    assert ep2.api_key == "sk-judge"
    assert (
        resolve_endpoint("llm", env=env).configured is False
    )  # the judge's settings are not the model's


def test_the_key_never_shows() -> None:
    ep = EndpointConfig(
        role="judge", base_url="https://user:pw@api.example.com/v1", model="m", api_key="sk-SECRET"
    )
    for text in (repr(ep), str(ep), json.dumps(ep.public())):
        assert "sk-SECRET" not in text
    assert "pw" not in json.dumps(ep.public()) and ep.public()["api_key_set"] is True
    assert redact_url("https://user:pw@h:8443/v1") == "https://***@h:8443/v1"


def test_local_ports_are_not_part_of_the_public_url() -> None:
    ep = EndpointConfig(role="judge", base_url="http://127.0.0.1:5555/v1", model="m")
    assert ep.public_url == "http://127.0.0.1:*/v1"
    assert (
        EndpointConfig(role="judge", base_url="https://api.openai.com/v1", model="m").public_url
        == "https://api.openai.com/v1"
    )


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ({"timeout": "soon"}, "ini key llaso_judge_timeout must be a number"),
        ({"timeout": "0"}, "llaso_judge_timeout must be a positive number"),
        ({"concurrency": "0"}, "llaso_judge_concurrency must be an integer in 1..1024"),
        ({"max_retries": "-1"}, "llaso_judge_max_retries must be an integer >= 0"),
        ({"price_in": "-2"}, "llaso_judge_price_in must be >= 0"),
    ],
)
def test_bad_values_name_the_setting(ini: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_endpoint("judge", env={}, ini=ini)
