"""The speech sub-plugin in-process: options, usage errors, pinned-model fixtures, records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy  # noqa: F401  - loaded before pytester snapshots sys.modules (C extensions
import pytest  # cannot be re-imported in one process)
from speech_testutil import ASR, MODELS, REPO, need_flite, need_testdata

pytest_plugins = ["pytester"]


def _recorded(pytester: pytest.Pytester) -> dict:  # type: ignore[type-arg]
    """What record_provenance added to the run record's provenance."""
    prov = json.loads((pytester.path / "run.json").read_text())["provenance"]
    return prov.get("recorded", prov)  # type: ignore[no-any-return]


def test_help_lists_speech_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["*--llaso-speech-engines*", "*--llaso-speech-device*", "*--llaso-speech-resample*",
         "*--llaso-speech-multichannel*", "*--llaso-speech-warmup*", "*llaso_speech_engines*"]
    )


def test_importing_the_sub_plugin_is_light() -> None:
    code = (
        "import sys, llaso_pytest.speech.pytest_plugin as p; "
        "bad = [m for m in ('numpy', 'soundfile', 'pocketsphinx', 'faster_whisper', "
        "'ctranslate2', 'scipy', 'torch') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_engine_is_a_usage_error_before_any_load(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.speech
        def test_x(llaso_speech_models):
            raise AssertionError("must not run")
        """
    )
    result = pytester.runpytest(
        "--llaso-speech-engines=whisper-huge", f"--llaso-speech-models-dir={MODELS}"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llaso-speech-engines*whisper-huge*known models*"])


def test_unknown_engine_ignored_when_no_speech_test_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest("--llaso-speech-engines=whisper-huge")
    result.assert_outcomes(passed=1)


def test_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllaso_speech_resample = maybe\n")
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*llaso_speech_resample*maybe*error, resample*"])


def test_bad_option_value_rejected_by_argparse(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--llaso-speech-warmup=-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llaso-speech-warmup*non-negative*"])


def test_model_fixture_loads_once_verified_and_recorded(pytester: pytest.Pytester) -> None:
    need_testdata()
    pytester.makepyfile(
        """
        import pytest
        from llaso_pytest.speech.audio import Recipe, load_audio
        WAV = ("/usr/share/pocketsphinx/test/data/librivox/"
               "sense_and_sensibility_01_austen_64kb-0930.wav")

        @pytest.mark.speech
        @pytest.mark.parametrize("i", [1, 2])
        def test_transcribe(llaso_speech_models, llaso_speech_recipe, i):
            m = llaso_speech_models.get("pocketsphinx-en-us")
            assert m is llaso_speech_models.get("pocketsphinx-en-us")  # loaded once
            assert m.device == "cpu"
            hyp = m.recognizer.transcribe(load_audio(WAV, recipe=llaso_speech_recipe).samples)
            assert "amiable" in hyp
        """
    )
    result = pytester.runpytest(f"--llaso-speech-models-dir={MODELS}", "--llaso-out=run.json",
                                "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    rec = _recorded(pytester)
    pin = rec["models"]["pocketsphinx-en-us"]
    assert pin["version"] == "5.1.1" and pin["verified"] == "sha256" and pin["device"] == "cpu"
    assert pin["files"]["en-us.lm.bin"] == (
        "db21d0642286677699e6dbc859d2e5395570222361999387ce60f6e1d01995d6")
    assert rec["speech_recipe"]["sample_rate"] == 16000
    assert rec["speech_recipe"]["on_rate_mismatch"] == "resample"


def test_hash_mismatch_fails_every_user_with_the_clear_message(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    data = json.loads((MODELS / "pocketsphinx-en-us.json").read_text())
    data["files"][0]["sha256"] = "ab" * 32
    models = tmp_path / "models"
    models.mkdir()
    (models / "ps.json").write_text(json.dumps(data))
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.speech
        @pytest.mark.parametrize("i", [1, 2])
        def test_x(llaso_speech_models, i):
            llaso_speech_models.get("pocketsphinx-en-us")
        """
    )
    result = pytester.runpytest(f"--llaso-speech-models-dir={models}", "-p", "no:cacheprovider",
                                "--llaso-speech-engines=pocketsphinx-en-us")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*does not match its pin*", "*en-us/means: sha256 832019e3*, expected abababab*",
         "*Fix: reinstall the pinned files*pocketsphinx==5.1.1*"]
    )


def test_team_recogniser_plugs_in(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from llaso_pytest.speech.engines import FunctionRecognizer

        def pytest_llaso_speech_recognizers(config):
            return {"echo": lambda: FunctionRecognizer(
                "echo", lambda x: f"{len(x)} samples", info={"device": "cpu"})}
        """
    )
    pytester.makepyfile(
        """
        import numpy as np, pytest
        from llaso_pytest.speech.timing import timed_transcribe

        @pytest.mark.speech
        def test_echo(llaso_speech_models):
            m = llaso_speech_models.get("echo")
            hyps, t = timed_transcribe(m.recognizer, [("a", np.zeros(160, np.float32))])
            assert hyps == {"a": "160 samples"} and t.device == "cpu"
        """
    )
    result = pytester.runpytest("--llaso-speech-engines=echo", "--llaso-out=run.json",
                                "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert _recorded(pytester)["models"]["echo"]["pinned"] is False


def test_dataset_fixture_records_manifest_hash(pytester: pytest.Pytester, tmp_path: Path) -> None:
    need_testdata()
    need_flite()
    pytester.makepyfile(
        f"""
        import pytest
        @pytest.mark.speech
        def test_ds(llaso_speech_datasets):
            ds = llaso_speech_datasets({str(ASR / "pocketsphinx_testdata.json")!r})
            assert len(ds.utterances) == 10 and all(u.path.is_file() for u in ds.utterances)
        """
    )
    result = pytester.runpytest(f"--llaso-speech-cache={tmp_path / 'cache'}",
                                f"--llaso-speech-models-dir={MODELS}",
                                "--llaso-out=run.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    ds = _recorded(pytester)["datasets"]["pocketsphinx-testdata"]
    assert len(ds["manifest_sha256"]) == 64 and ds["n_utterances"] == 10
    assert ds["debian_package"] == "pocketsphinx-testdata" and ds["debian_version"]
    assert (tmp_path / "cache" / "README").is_file()


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("noisy", {f"test_noisy_wer[{e}-{c}]" for e in ("pocketsphinx-en-us", "whisper-tiny.en")
                   for c in ("white-20dB", "white-10dB", "white-5dB", "pink-20dB", "pink-10dB",
                             "pink-5dB")}),
        ("clean", {f"{t}[{e}]" for e in ("pocketsphinx-en-us", "whisper-tiny.en")
                   for t in ("test_clean_wer", "test_clean_breakdowns",
                             "test_librivox_real_speech")} | {"test_whisper_on_cuda"}),
    ],
)
def test_shipped_suite_selects_by_condition_marker(marker: str, expected: set[str]) -> None:
    repo = REPO
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/asr", "-m", marker, "--collect-only", "-q",
         "-p", "no:cacheprovider", "--llaso-out", os.devnull],
        cwd=repo, capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    got = {line.split("::")[-1] for line in out.stdout.splitlines() if "::" in line}
    assert got == expected


def test_model_manifests_are_searched_user_dirs_then_project_then_shipped(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """The user's directories come first, then ``<rootdir>/fixtures/models`` (when it
    exists), then the pins shipped inside the package: a name found earlier wins."""
    from llaso_pytest.speech.manifest import shipped_models_dir

    shipped = shipped_models_dir()
    assert shipped == MODELS.resolve()
    assert {p.name for p in shipped.glob("*.json")} == {"pocketsphinx-en-us.json",
                                                         "whisper-tiny-en.json"}
    mine = tmp_path / "mine"
    mine.mkdir()
    data = json.loads((shipped / "pocketsphinx-en-us.json").read_text())
    (mine / "my-ps.json").write_text(json.dumps(data))
    project = pytester.path / "fixtures" / "models"
    project.mkdir(parents=True)
    (project / "project-whisper.json").write_text(
        (shipped / "whisper-tiny-en.json").read_text())
    pytester.makepyfile(
        f"""
        from pathlib import Path

        def test_order(llaso_speech_models, llaso_speech_settings):
            dirs = [str(d) for d in llaso_speech_settings.models_dirs]
            assert dirs == [{str(mine)!r}, {str(project)!r}, {str(shipped)!r}]
            found = llaso_speech_models.registry.manifest_path
            assert found("pocketsphinx-en-us") == Path({str(mine)!r}) / "my-ps.json"
            assert found("whisper-tiny.en").name == "project-whisper.json"
        """
    )
    pytester.runpytest(f"--llaso-speech-models-dir={mine}", "-p", "no:cacheprovider"
                       ).assert_outcomes(passed=1)
    (project / "project-whisper.json").unlink()
    project.rmdir()
    pytester.makepyfile(
        f"""
        from pathlib import Path

        def test_shipped(llaso_speech_models, llaso_speech_settings):
            assert [str(d) for d in llaso_speech_settings.models_dirs] == [{str(shipped)!r}]
            path = llaso_speech_models.registry.manifest_path("whisper-tiny.en")
            assert path == Path({str(shipped)!r}) / "whisper-tiny-en.json"
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
