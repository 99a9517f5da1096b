"""``llaso compare`` / ``llaso baseline``: exit codes, outputs, errors naming the file, store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from compare_testutil import synthetic_pair, write_json

from llaso_pytest import store
from llaso_pytest.cli import main


@pytest.fixture()
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.chdir(tmp_path)
    a, b = synthetic_pair(base_rate=0.10, head_rate=0.14)
    return {
        "base": write_json(tmp_path / "base.json", a),
        "worse": write_json(tmp_path / "worse.json", b),
        "same": write_json(tmp_path / "same.json", a),
    }


def test_exit_codes(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(runs["base"]), str(runs["same"]), "--n-boot", "500"]) == 0
    assert main(["compare", str(runs["base"]), str(runs["worse"]), "--n-boot", "500"]) == 0
    out = capsys.readouterr().out
    assert "REGRESSED" in out and "1 regressed, 0 improved at FDR 5%" in out
    assert main(["compare", str(runs["base"]), str(runs["worse"]), "--n-boot", "500",
                 "--fail-on-regression"]) == 1
    err = capsys.readouterr().err
    assert "significant regression: suites/asr/test_asr.py::test_wer[clean]::wer" in err
    assert main(["compare", str(runs["base"]), str(runs["same"]), "--n-boot", "500",
                 "--fail-on-regression"]) == 0
    # inside a tolerance: not a regression
    assert main(["compare", str(runs["base"]), str(runs["worse"]), "--n-boot", "500",
                 "--fail-on-regression", "--tolerance", "wer:+10pp"]) == 0


@pytest.mark.parametrize("content,words", [
    (None, "no such run record file"),
    ("", "empty"),
    ('{"schema_version": 1, "kind": "llaso-run-rec', "not valid JSON"),
    ('{"name": "something else"}', "not a llaso-pytest run record"),
    ('[1, 2, 3]', "not a llaso-pytest run record"),
    ("__future__", "schema_version 7 is newer"),
])
def test_unusable_baselines_exit_2_naming_the_file(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    content: str | None, words: str,
) -> None:
    bad = tmp_path / "bad-baseline.json"
    if content == "__future__":
        data = json.loads(runs["base"].read_text())
        data["schema_version"] = 7
        bad.write_text(json.dumps(data))
    elif content is not None:
        bad.write_text(content)
    for args in ([str(bad), str(runs["worse"])], [str(runs["base"]), str(bad)]):
        assert main(["compare", *args, "--fail-on-regression"]) == 2
        err = capsys.readouterr().err
        assert str(bad) in err and words in err


def test_bad_options_exit_2(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    base, worse = str(runs["base"]), str(runs["worse"])
    assert main(["compare", base, worse, "--tolerance", "wer:lots"]) == 2
    assert "bad tolerance 'wer:lots'" in capsys.readouterr().err
    assert main(["compare", base, worse, "--n-boot", "5"]) == 2
    assert "at least 100 resamples" in capsys.readouterr().err
    assert main(["compare", base, worse, "--format", "pdf"]) == 2
    assert main(["compare", base]) == 2
    assert main(["compare", base, worse, "--confidence", "2"]) == 2
    assert main([]) == 2


def test_outputs_by_suffix(runs: dict[str, Path], tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    rc = main(["compare", str(runs["base"]), str(runs["worse"]), "--n-boot", "500",
               "-o", str(out / "c.md"), "-o", str(out / "c.html"), "-o", str(out / "c.json"),
               "--details-url", "https://example.invalid/runs/7"])
    assert rc == 0
    md = (out / "c.md").read_text()
    assert md.startswith("<!-- llaso-pytest-report -->") and "example.invalid/runs/7" in md
    assert (out / "c.html").read_text().startswith("<!DOCTYPE html>")
    assert json.loads((out / "c.json").read_text())["counts"]["regressed"] == 1
    assert "REGRESSED" in capsys.readouterr().out  # the table still goes to the log
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left
    rc = main(["compare", str(runs["base"]), str(runs["worse"]), "--n-boot", "500",
               "--format", "json", "-o", str(out / "report.txt"), "-q"])
    assert rc == 0 and json.loads((out / "report.txt").read_text())["kind"] == "llaso-comparison"
    assert capsys.readouterr().out == ""


def test_stdout_formats(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    for fmt, check in (("json", lambda s: json.loads(s)["kind"] == "llaso-comparison"),
                       ("md", lambda s: s.startswith("<!-- llaso-pytest-report -->")),
                       ("html", lambda s: s.startswith("<!DOCTYPE html>")),
                       ("text", lambda s: s.startswith("baseline "))):
        assert main(["compare", str(runs["base"]), str(runs["worse"]), "--n-boot", "500",
                     "--format", fmt]) == 0
        assert check(capsys.readouterr().out), fmt


def test_saved_baselines_resolve_by_name(runs: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["baseline", "save", "main", str(runs["base"])]) == 0
    assert (tmp_path / ".llaso" / "baselines" / "main.json").is_file()
    assert (tmp_path / ".llaso" / "README.md").read_text().startswith("# .llaso")
    assert (tmp_path / ".llaso" / ".gitignore").read_text().endswith("*\n")
    capsys.readouterr()
    assert main(["baseline", "list"]) == 0
    assert capsys.readouterr().out.split() == ["main"]
    assert main(["compare", "main", str(runs["worse"]), "--n-boot", "500",
                 "--fail-on-regression"]) == 1
    assert main(["compare", "nightly", str(runs["worse"])]) == 2
    err = capsys.readouterr().err
    assert "baseline 'nightly' not found" in err and "saved baselines in" in err and "main" in err
    assert main(["baseline", "save", "../evil", str(runs["base"])]) == 2
    assert "bad baseline name" in capsys.readouterr().err
    (tmp_path / "junk.json").write_text("{")
    assert main(["baseline", "save", "junk", str(tmp_path / "junk.json")]) == 2
    assert not (tmp_path / ".llaso" / "baselines" / "junk.json").exists()


def test_console_script_runs_as_a_process(runs: dict[str, Path]) -> None:
    proc = subprocess.run([sys.executable, "-m", "llaso_pytest.cli", "compare", str(runs["base"]),
                           str(runs["worse"]), "--n-boot", "300", "--fail-on-regression"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "REGRESSED" in proc.stdout


def test_store_resolution(tmp_path: Path) -> None:
    a, _ = synthetic_pair()
    rec = write_json(tmp_path / "r.json", a)
    st = tmp_path / "store"
    assert store.resolve_baseline(str(rec), st) == rec
    assert store.resolve_baseline("r.json", store_dir=st, cwd=tmp_path) == rec
    assert store.check_name("main") == "main"
    with pytest.raises(ValueError, match="bad baseline name"):
        store.check_name("a b")
    with pytest.raises(store.BaselineError, match="no baselines are saved"):
        store.resolve_baseline("main", st)
    with pytest.raises(store.BaselineError, match="no such run record file"):
        store.resolve_baseline(str(tmp_path / "missing.json"), st)
    with pytest.raises(store.BaselineError, match="is a directory"):
        store.resolve_baseline(str(tmp_path), st)
    saved = store.save_baseline(a, "v1.2", store_dir=st)
    assert saved == st / "baselines" / "v1.2.json"
    assert store.resolve_baseline("v1.2", st) == saved
    assert json.loads(saved.read_text())["run_id"] == a["run_id"]
    assert store.list_baselines(st) == ["v1.2"]
    (st / "README.md").write_text("mine")
    store.ensure_store(st)
    assert (st / "README.md").read_text() == "mine"  # never overwritten
    for bad in ("", "a/b", "x.json", ".hidden", "a" * 101):
        with pytest.raises(store.BaselineError):
            store.baseline_path(bad, st)


def _mutated(path: Path, tmp_path: Path, name: str, mutate: object) -> Path:
    data = json.loads(path.read_text())
    mutate(data)  # type: ignore[operator]
    return write_json(tmp_path / name, data)


def _first_result(data: dict[str, object]) -> dict[str, object]:
    return data["tests"][0]["results"][0]  # type: ignore[index,no-any-return]


@pytest.mark.parametrize("mutate", [
    lambda d: d["tests"][0].update(results=[1]),
    lambda d: d["tests"][0].update(results="abc"),
    lambda d: _first_result(d).update(items=[1, 2]),
    lambda d: _first_result(d)["items"].update(groups=5),
    lambda d: _first_result(d)["items"].update(ids=[[i] for i in range(400)]),
    lambda d: _first_result(d).update(higher_is_better="false"),
    lambda d: d.update(complete="false"),
], ids=["results-numbers", "results-string", "items-list", "groups-number", "ids-unhashable",
        "direction-string", "complete-string"])
def test_malformed_records_exit_2_naming_the_file(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate: object,
) -> None:
    bad = _mutated(runs["base"], tmp_path, "malformed.json", mutate)
    for args in ([str(bad), str(runs["worse"])], [str(runs["base"]), str(bad)]):
        assert main(["compare", *args, "--n-boot", "200"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("llaso compare: error: ") and str(bad) in err
        assert "Traceback" not in err


def test_report_files_with_undecodable_ids_are_written(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def surrogate_ids(d: dict[str, object]) -> None:
        items = _first_result(d)["items"]
        items["ids"] = [f"clip_{i}_\udcff.wav" for i in range(len(items["ids"]))]  # type: ignore[index]

    base = _mutated(runs["base"], tmp_path, "sur_base.json", surrogate_ids)
    head = _mutated(runs["worse"], tmp_path, "sur_head.json", surrogate_ids)
    out = tmp_path / "sur"
    assert main(["compare", str(base), str(head), "--n-boot", "200", "-o", str(out / "c.md"),
                 "-o", str(out / "c.html"), "-o", str(out / "c.json"), "-o",
                 str(out / "c.txt")]) == 0
    capsys.readouterr()
    data = json.loads((out / "c.json").read_text(encoding="utf-8"))
    worst = data["metrics"][0]["worst_changes"]
    assert worst and worst[0]["item"].endswith("_\udcff.wav")
    assert "\\udcff" in (out / "c.html").read_text(encoding="utf-8")


def test_a_folder_named_like_a_saved_baseline_does_not_hide_it(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["baseline", "save", "main", str(runs["base"])]) == 0
    (tmp_path / "main").mkdir()  # e.g. a checkout of the main branch
    assert main(["compare", "main", str(runs["worse"]), "--n-boot", "200",
                 "--fail-on-regression"]) == 1
    assert "is a directory" not in capsys.readouterr().err
    st = tmp_path / ".llaso"
    assert store.resolve_baseline("main", st, cwd=tmp_path) == st / "baselines" / "main.json"
    (tmp_path / "other").mkdir()
    with pytest.raises(store.BaselineNotFoundError, match="other is a directory"):
        store.resolve_baseline("other", st, cwd=tmp_path)
    with pytest.raises(store.BaselineError, match="is a directory"):
        store.resolve_baseline("./main", st, cwd=tmp_path)  # clearly a path: no fallback


def test_unknown_output_suffix_is_refused_listing_the_known_ones(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for extra in ([], ["-o", str(tmp_path / "also.md")]):
        assert main(["compare", str(runs["base"]), str(runs["worse"]), "--n-boot", "200",
                     "-o", str(tmp_path / "out.pdf"), *extra]) == 2
        err = capsys.readouterr().err
        assert "unknown report suffix '.pdf'; use one of .txt (text), .md/.markdown (md), " \
            ".json (json), .html/.htm (html)" in err
        assert not (tmp_path / "out.pdf").exists()
    assert main(["compare", str(runs["base"]), str(runs["worse"]), "--n-boot", "200",
                 "-o", str(tmp_path / "a.markdown"), "-o", str(tmp_path / "a.htm")]) == 0
    assert (tmp_path / "a.markdown").read_text().startswith("<!-- llaso-pytest-report -->")
    assert (tmp_path / "a.htm").read_text().startswith("<!DOCTYPE html>")


def test_help_and_choices_come_from_the_format_table(capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    from llaso_pytest.report import FORMAT_TABLE

    assert main(["compare", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for fmt in FORMAT_TABLE:
        assert f"{'/'.join(fmt.suffixes)} ({fmt.name})" in text
        assert f"{fmt.name}: {fmt.description}" in text


def test_cli_and_plugin_share_one_validator_per_value(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from llaso_pytest import options

    base, worse = str(runs["base"]), str(runs["worse"])
    for flag, value, validator in (("--seed", "-1", options.parse_seed),
                                   ("--seed", "0x", options.parse_seed),
                                   ("--n-boot", "99", options.parse_n_boot),
                                   ("--confidence", "nan", options.parse_confidence),
                                   ("--correction", "fdr", options.parse_correction)):
        assert main(["compare", base, worse, flag, value]) == 2
        err = capsys.readouterr().err
        with pytest.raises(options.OptionError) as exc:
            validator(value)
        assert str(exc.value) in err, (flag, value)
    assert options.parse_seed("0x10") == 16 and options.parse_seed("0") == 0
    assert options.parse_patterns(["wer*, bleu", "judge_*\nwer*"]) == ("wer*", "bleu", "judge_*")


def test_correction_and_fail_on_untested_reach_the_gate(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from compare_testutil import record, result

    def tiny(errors: list[int]) -> dict[str, object]:
        return record({"suites/t.py::test_tiny": [
            result("tiny", stats={"errors": errors, "words": [5, 5, 5]})]})

    a = write_json(tmp_path / "tiny_a.json", tiny([1, 0, 1]))
    b = write_json(tmp_path / "tiny_b.json", tiny([0, 1, 0]))  # 3 items: no test possible
    args = ["compare", str(a), str(b), "--n-boot", "200", "--fail-on-regression"]
    assert main(args) == 0
    assert main([*args, "--fail-on-untested", "tin*"]) == 1
    assert "tiny" in capsys.readouterr().err
    out = tmp_path / "c.json"
    assert main(["compare", str(runs["base"]), str(runs["worse"]), "--n-boot", "200",
                 "--correction", "holm", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["settings"]["correction"] == "holm"
    # a baseline sharing no test with the head: vacuous, exit 6
    assert main(["compare", str(a), str(runs["worse"]), "--n-boot", "200",
                 "--fail-on-regression"]) == 6
