"""Real engines transcribe real audio; timing excludes warm-up and includes lazy decoding."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from speech_testutil import MODELS, need_testdata

from llaso_pytest import metrics
from llaso_pytest.speech.audio import Recipe, load_audio
from llaso_pytest.speech.engines import (
    FunctionRecognizer,
    Recognizer,
    cuda_available,
    load_recognizer,
    resolve_device,
)
from llaso_pytest.speech.errors import AudioError, EngineError
from llaso_pytest.speech.manifest import load_model_manifest, verify_model
from llaso_pytest.speech.timing import timed_transcribe

REF_0870 = ("and mister john dashwood had then leisure to consider how much there might be "
            "prudently in his power to do for them")
REF_0930 = "he might even have been made amiable himself"


@pytest.fixture(scope="module")
def clips() -> dict[str, np.ndarray]:
    need_testdata()
    base = Path("/usr/share/pocketsphinx/test/data/librivox")
    return {
        k: load_audio(
            base / f"sense_and_sensibility_01_austen_64kb-{k}.wav", recipe=Recipe()
        ).samples
        for k in ("0870", "0930")
    }


def _wer(ref: str, hyp: str) -> float:
    return float(metrics.wer([ref], [hyp], normalize="whisper", n_boot=0).value)


def test_pocketsphinx_transcribes_real_speech(clips: dict[str, np.ndarray]) -> None:
    rec = load_recognizer(verify_model(load_model_manifest(MODELS / "pocketsphinx-en-us.json")))
    assert isinstance(rec, Recognizer)
    hyp = rec.transcribe(clips["0930"])
    # Its output on this file is known to be close but imperfect ("made the amiable");
    # a broken front end (wrong rate, byte order) gives garbage or nothing.
    assert "amiable" in hyp and _wer(REF_0930, hyp) < 0.4
    assert rec.describe()["device"] == "cpu"
    assert rec.transcribe(clips["0930"]) == hyp  # decoder state is reset per utterance
    stereo = np.stack([clips["0930"], clips["0930"]], axis=1)
    for bad in (stereo, np.zeros(0, np.float32), (clips["0930"] * 32767).astype(np.int16)):
        with pytest.raises(AudioError, match="pocketsphinx-en-us.*mono float"):
            rec.transcribe(bad)


def test_faster_whisper_transcribes_real_speech(clips: dict[str, np.ndarray]) -> None:
    rec = load_recognizer(
        verify_model(load_model_manifest(MODELS / "whisper-tiny-en.json")), device="cpu",
        cpu_threads=1,
    )
    info = rec.describe()
    assert info["device"] == "cpu" and info["dtype"] == "int8"
    hyp = rec.transcribe(clips["0870"])
    assert "dashwood" in hyp.lower() and _wer(REF_0870, hyp) < 0.15


def test_pocketsphinx_transcript_does_not_depend_on_what_was_decoded_before(
    clips: dict[str, np.ndarray],
) -> None:
    """Live CMN carried its estimate across utterances: after loud noise, the same clip was
    transcribed differently, so a score depended on test order and -m selections."""
    rec = load_recognizer(verify_model(load_model_manifest(MODELS / "pocketsphinx-en-us.json")))
    first = rec.transcribe(clips["0870"])
    rng = np.random.default_rng(0)
    noisy = (clips["0870"] + rng.normal(0.0, 0.2, clips["0870"].size)).astype(np.float32)
    rec.transcribe(noisy)
    rec.transcribe(clips["0930"])
    rec.transcribe(noisy)
    assert rec.transcribe(clips["0870"]) == first
    assert rec.describe()["options"]["front_end"] == "reset-per-utterance"


def test_pocketsphinx_unknown_option_is_an_engine_error_naming_the_manifest(tmp_path: Path) -> None:
    import json

    data = json.loads((MODELS / "pocketsphinx-en-us.json").read_text())
    data["options"]["no_such_option"] = 1
    (tmp_path / "p.json").write_text(json.dumps(data))
    with pytest.raises(EngineError) as exc:
        load_recognizer(verify_model(load_model_manifest(tmp_path / "p.json")))
    assert "no_such_option" in str(exc.value) and str(tmp_path / "p.json") in str(exc.value)


def test_faster_whisper_passes_every_pinned_option() -> None:
    from llaso_pytest.speech.engines import FASTER_WHISPER_OPTIONS

    m = load_model_manifest(MODELS / "whisper-tiny-en.json")
    rec = load_recognizer(verify_model(m), device="cpu", cpu_threads=1)
    opts = rec.describe()["options"]
    assert set(opts) == set(FASTER_WHISPER_OPTIONS)
    assert {k: opts[k] for k in m.options} == dict(m.options)
    assert rec.describe()["cpu_threads"] == 1


@pytest.mark.gpu
@pytest.mark.speech
def test_faster_whisper_on_cuda(clips: dict[str, np.ndarray]) -> None:
    rec = load_recognizer(
        verify_model(load_model_manifest(MODELS / "whisper-tiny-en.json")), device="cuda"
    )
    assert rec.describe()["device"] == "cuda" and rec.describe()["dtype"] == "float16"
    assert _wer(REF_0870, rec.transcribe(clips["0870"])) < 0.15


def test_device_resolution() -> None:
    assert resolve_device("cpu", supports_cuda=True, model="m") == "cpu"
    with pytest.raises(EngineError, match="CPU only"):
        resolve_device("cuda", supports_cuda=False, model="m")
    with pytest.raises(EngineError, match="auto, cpu or cuda"):
        resolve_device("tpu", supports_cuda=True, model="m")
    if not cuda_available():
        assert resolve_device("auto", supports_cuda=True, model="m") == "cpu"
        with pytest.raises(EngineError, match="no CUDA device"):
            resolve_device("cuda", supports_cuda=True, model="m")


def test_unknown_engine_in_manifest(tmp_path: Path) -> None:
    import json

    data = json.loads((MODELS / "pocketsphinx-en-us.json").read_text())
    data["engine"] = "kaldi"
    (tmp_path / "k.json").write_text(json.dumps(data))
    with pytest.raises(EngineError, match="unknown engine 'kaldi'.*register"):
        load_recognizer(verify_model(load_model_manifest(tmp_path / "k.json")))


def test_function_recognizer_checks_return_type() -> None:
    rec = FunctionRecognizer("bad", lambda x: 3)
    assert isinstance(rec, Recognizer)
    with pytest.raises(EngineError, match="returned int"):
        rec.transcribe(np.zeros(10, dtype=np.float32))


class _SlowFirst:
    """Sleeps 0.3 s on its first call (lazy init), 0.02 s afterwards."""

    name = "slow-first"
    sample_rate = 16000

    def __init__(self) -> None:
        self.calls = 0
        self.lengths: list[int] = []

    def transcribe(self, samples: Any) -> str:
        self.calls += 1
        self.lengths.append(len(samples))
        time.sleep(0.3 if self.calls == 1 else 0.02)
        return "ok"

    def describe(self) -> dict[str, Any]:
        return {"engine": "test", "device": "cpu", "batch_size": 1}


def test_warmup_is_excluded_and_figures_are_consistent() -> None:
    rec = _SlowFirst()
    items = [(f"u{i}", np.zeros(16000 * (4 - i), dtype=np.float32)) for i in range(4)]
    hyps, t = timed_transcribe(rec, items, warmup=1)
    assert rec.calls == 5 and hyps == {f"u{i}": "ok" for i in range(4)}
    assert rec.lengths[0] == 16000  # warm-up on the shortest clip, then all items in order
    assert rec.lengths[1:] == [64000, 48000, 32000, 16000]
    lat = np.array(list(t.latencies.values()))
    assert lat.max() < 0.2  # the 0.3 s first call is not in any timed item
    assert t.audio_seconds == pytest.approx(10.0)
    assert t.rtf == pytest.approx(lat.sum() / 10.0)
    assert t.rtfx == pytest.approx(1 / t.rtf)
    assert t.latency_p50 == pytest.approx(np.percentile(lat, 50))
    assert t.latency_p95 == pytest.approx(np.percentile(lat, 95))
    assert t.throughput_utts_per_s == pytest.approx(4 / lat.sum())
    assert (t.device, t.batch_size, t.warmup_runs) == ("cpu", 1, 1)
    assert t.signature_fields()["warmup"] == 1 and t.signature_fields()["device"] == "cpu"
    _, cold = timed_transcribe(_SlowFirst(), items, warmup=0)
    assert max(cold.latencies.values()) >= 0.3


def test_lazy_decoder_consumed_inside_timed_region() -> None:
    def lazy(samples: Any) -> Iterator[str]:
        for word in ("hello", "world"):
            time.sleep(0.05)  # the work happens while the generator is consumed
            yield word

    rec = FunctionRecognizer("lazy", lazy)  # type: ignore[arg-type]
    rec.transcribe = lazy  # type: ignore[method-assign]  # bypass the str check on purpose
    hyps, t = timed_transcribe(rec, [("a", np.zeros(1600, dtype=np.float32))], warmup=0)
    assert hyps == {"a": "hello world"}
    assert t.latencies["a"] >= 0.1


def test_timing_input_errors() -> None:
    rec = _SlowFirst()
    with pytest.raises(ValueError, match="at least one"):
        timed_transcribe(rec, [])
    z = np.zeros(10, dtype=np.float32)
    with pytest.raises(ValueError, match="duplicate utterance id 'a'"):
        timed_transcribe(rec, [("a", z), ("a", z)], warmup=0)


def test_timing_signature_names_cpu_threads_and_the_cpu() -> None:
    """RTFs from different thread counts or CPUs must not compare as like with like."""
    from llaso_pytest.provenance import cpu_info

    items = [("a", np.zeros(1600, dtype=np.float32))]
    sigs = []
    for threads in (1, 4):
        rec = FunctionRecognizer(
            "f", lambda x: "ok", info={"device": "cpu", "cpu_threads": threads}
        )
        _, t = timed_transcribe(rec, items, warmup=0)
        sigs.append(t.signature_fields())
    assert sigs[0]["cpu_threads"] == 1 and sigs[1]["cpu_threads"] == 4
    assert sigs[0] != sigs[1]
    cpu = cpu_info()
    assert sigs[0]["cpu_model"] == cpu["model"]
    assert sigs[0]["cpu_logical_cores"] == cpu["logical_cores"]
    assert sigs[0]["cpu_usable_cores"] == cpu["usable_cores"]
    for v in sigs[0].values():  # usable as metric signature fields
        assert v is None or isinstance(v, (str, int, float, bool))


def test_timing_signature_records_omp_num_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    items = [("a", np.zeros(1600, dtype=np.float32))]
    rec = FunctionRecognizer("f", lambda x: "ok", info={"cpu_threads": 0})
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    _, t = timed_transcribe(rec, items, warmup=0)
    assert t.signature_fields()["omp_num_threads"] == "3"
    assert t.signature_fields()["cpu_threads"] == 0


@pytest.mark.filterwarnings("ignore:latency_s. only 1 groups")
def test_suite_timing_metrics_carry_the_thread_signature() -> None:
    """The RTF/latency metrics the suite (through ``llaso_asr``) records are signed with the
    timing fields."""
    from types import SimpleNamespace

    from llaso_pytest.speech.scoring import timing_results

    rec = FunctionRecognizer("f", lambda x: "ok", info={"device": "cpu", "cpu_threads": 2})
    _, t = timed_transcribe(rec, [("a", np.zeros(1600, dtype=np.float32))], warmup=0)
    run = SimpleNamespace(timing=t, utterances=[SimpleNamespace(speaker="s")], cached=0)
    recorded = list(timing_results(run, {"model": "m"}, seed=0).values())  # type: ignore[arg-type]
    names = {r.name for r in recorded}
    assert {"rtf", "rtfx", "latency_s", "throughput_audio_s_per_s"} <= names
    for r in recorded:
        f = r.signature.fields
        assert f["cpu_threads"] == 2 and "cpu_model" in f and "cpu_logical_cores" in f
        assert f["model"] == "m"
