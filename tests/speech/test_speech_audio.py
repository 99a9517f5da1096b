"""Audio loading: every bad input is a clear error or an explicit, recorded conversion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from llaso_pytest.speech.audio import Recipe, load_audio, prepare, to_int16
from llaso_pytest.speech.errors import AudioError

SR = 16000


def _tone(freq: float, seconds: float, sr: int) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float64)


def _wav(path: Path, data: np.ndarray, sr: int = SR) -> Path:
    sf.write(str(path), data, sr, subtype="PCM_16")
    return path


def test_real_librivox_file_loads_bit_exact(librivox_wav: Path) -> None:
    a = load_audio(librivox_wav, recipe=Recipe())
    raw, sr = sf.read(str(librivox_wav), dtype="int16")
    assert a.sample_rate == sr == SR and a.conversions == ()
    assert a.samples.dtype == np.float32
    assert to_int16(a.samples) == raw.astype("<i2").tobytes()  # exact PCM round trip
    assert a.duration == pytest.approx(len(raw) / sr)


def test_truncated_wav_is_an_error_although_libsndfile_reads_it(tmp_path: Path) -> None:
    p = _wav(tmp_path / "t.wav", _tone(440, 1.0, SR))
    full = p.read_bytes()
    p.write_bytes(full[: len(full) - 6000])
    data, _ = sf.read(str(p))  # libsndfile silently returns fewer frames ...
    assert len(data) < SR
    with pytest.raises(AudioError) as exc:  # ... we do not
        load_audio(p, recipe=Recipe())
    msg = str(exc.value)
    assert str(p) in msg and "truncated" in msg and "32000" in msg and "26000" in msg


@settings(max_examples=30, deadline=None)
@given(cut=st.integers(1, 3199))
def test_any_truncation_is_an_error(tmp_path_factory: pytest.TempPathFactory, cut: int) -> None:
    d = tmp_path_factory.mktemp("trunc")
    p = _wav(d / "t.wav", _tone(440, 0.1, SR))  # 44-byte header + 3200 data bytes
    full = p.read_bytes()
    assert len(full) == 44 + 3200
    p.write_bytes(full[: len(full) - cut])
    with pytest.raises(AudioError, match="truncated"):
        load_audio(p, recipe=Recipe())


def test_header_only_wav_without_data_chunk(tmp_path: Path) -> None:
    p = _wav(tmp_path / "h.wav", _tone(440, 0.1, SR))
    p.write_bytes(p.read_bytes()[:30])
    with pytest.raises(AudioError, match="truncated or corrupt"):
        load_audio(p, recipe=Recipe())


def test_corrupt_file_is_an_error_naming_it(tmp_path: Path) -> None:
    p = tmp_path / "noise.wav"
    p.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(AudioError, match="not a readable audio file") as exc:
        load_audio(p, recipe=Recipe())
    assert str(p) in str(exc.value)


def test_zero_byte_and_missing_files(tmp_path: Path) -> None:
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(p, recipe=Recipe())
    with pytest.raises(AudioError, match="does not exist"):
        load_audio(tmp_path / "nope.wav", recipe=Recipe())


def test_empty_clip_is_an_error(tmp_path: Path) -> None:
    p = _wav(tmp_path / "zero.wav", np.zeros(0))
    with pytest.raises(AudioError, match="empty clip"):
        load_audio(p, recipe=Recipe())


def test_wrong_sample_rate_is_an_error_by_default(tmp_path: Path) -> None:
    p = _wav(tmp_path / "8k.wav", _tone(440, 0.5, 8000), sr=8000)
    with pytest.raises(AudioError) as exc:
        load_audio(p, recipe=Recipe())
    msg = str(exc.value)
    assert "8000 Hz" in msg and "16000 Hz" in msg and "--llaso-speech-resample" in msg


def test_explicit_resampling_keeps_pitch_and_length(tmp_path: Path) -> None:
    p = _wav(tmp_path / "8k.wav", _tone(440, 1.0, 8000), sr=8000)
    a = load_audio(p, recipe=Recipe(on_rate_mismatch="resample"))
    assert a.sample_rate == SR and a.conversions == ("resample:8000->16000",)
    assert len(a.samples) == 2 * 8000
    spec = np.abs(np.fft.rfft(a.samples))
    peak_hz = np.argmax(spec) * SR / len(a.samples)
    assert peak_hz == pytest.approx(440, abs=2)


def test_stereo_is_an_error_unless_downmix_is_chosen(tmp_path: Path) -> None:
    left, right = _tone(440, 0.5, SR), _tone(880, 0.5, SR)
    p = _wav(tmp_path / "st.wav", np.stack([left, right], axis=1))
    with pytest.raises(AudioError, match="2 channels.*on_multichannel"):
        load_audio(p, recipe=Recipe())
    mean = load_audio(p, recipe=Recipe(on_multichannel="mean"))
    first = load_audio(p, recipe=Recipe(on_multichannel="first"))
    assert mean.conversions == ("downmix:mean(2)",)
    np.testing.assert_allclose(mean.samples, (left + right) / 2, atol=1 / 16384)
    np.testing.assert_allclose(first.samples, left, atol=1 / 16384)


def test_integer_pcm_scaling() -> None:
    i16 = prepare(np.array([-32768, 0, 16384], dtype=np.int16), SR, recipe=Recipe())
    u8 = prepare(np.array([0, 128, 192], dtype=np.uint8), SR, recipe=Recipe())
    np.testing.assert_array_equal(i16.samples, [-1.0, 0.0, 0.5])
    np.testing.assert_array_equal(u8.samples, [-1.0, 0.0, 0.5])


def test_nan_and_non_numeric_arrays() -> None:
    x = np.zeros(100)
    x[3] = np.nan
    with pytest.raises(AudioError, match="1 samples are NaN"):
        prepare(x, SR, recipe=Recipe(), source="clip-7")
    with pytest.raises(AudioError, match="numeric"):
        prepare(np.array(["a"]), SR, recipe=Recipe())
    with pytest.raises(AudioError, match="shape"):
        prepare(np.zeros((2, 2, 2)), SR, recipe=Recipe())


def test_peak_normalisation_and_silence() -> None:
    a = prepare(_tone(100, 0.2, SR) * 0.1, SR, recipe=Recipe(normalize="peak", peak_dbfs=-6.0))
    assert float(np.abs(a.samples).max()) == pytest.approx(10 ** (-6 / 20), rel=1e-4)
    with pytest.raises(AudioError, match="digital silence"):
        prepare(np.zeros(100), SR, recipe=Recipe(normalize="peak"))


def test_recipe_validation_and_signature() -> None:
    with pytest.raises(ValueError, match="on_rate_mismatch"):
        Recipe(on_rate_mismatch="guess")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="vad"):
        Recipe(vad="webrtc")
    r = Recipe(on_rate_mismatch="resample")
    assert r.signature() != Recipe().signature()
    assert r.to_dict()["resampler"].startswith("scipy.signal.resample_poly")


def _ogg(path: Path, seconds: float = 6.0) -> Path:
    rng = np.random.default_rng(0)
    x = 0.3 * rng.standard_normal(int(seconds * SR))  # noise: many Ogg pages, none empty
    sf.write(str(path), x, SR, format="OGG", subtype="VORBIS")
    return path


def _page_starts(data: bytes) -> list[int]:
    out, pos = [], data.find(b"OggS")
    while pos >= 0:
        out.append(pos)
        pos = data.find(b"OggS", pos + 4)
    return out


def test_complete_ogg_loads(tmp_path: Path) -> None:
    a = load_audio(_ogg(tmp_path / "full.ogg"), recipe=Recipe())
    assert a.duration == pytest.approx(6.0, abs=0.01)


def test_truncated_ogg_is_an_error_although_libsndfile_reads_it(tmp_path: Path) -> None:
    """libsndfile reports and decodes what is left of a cut Ogg file without complaint."""
    full = _ogg(tmp_path / "full.ogg").read_bytes()
    cut = tmp_path / "cut.ogg"
    cut.write_bytes(full[: len(full) // 2])
    assert sf.info(str(cut)).frames < 6 * SR  # what would silently be evaluated
    with pytest.raises(AudioError, match="truncated Ogg") as exc:
        load_audio(cut, recipe=Recipe())
    assert str(cut) in str(exc.value) and "Re-export or re-copy" in str(exc.value)


def test_ogg_cut_at_a_page_boundary_is_an_error(tmp_path: Path) -> None:
    full = _ogg(tmp_path / "full.ogg").read_bytes()
    starts = _page_starts(full)
    cut = tmp_path / "cut.ogg"
    cut.write_bytes(full[: starts[len(starts) // 2]])
    with pytest.raises(AudioError, match="no end-of-stream page"):
        load_audio(cut, recipe=Recipe())


def test_truncated_flac_is_an_error_naming_the_file(tmp_path: Path) -> None:
    p = tmp_path / "full.flac"
    sf.write(str(p), _tone(440, 3.0, SR), SR, format="FLAC")
    cut = tmp_path / "cut.flac"
    cut.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(AudioError, match="truncated, corrupt") as exc:
        load_audio(cut, recipe=Recipe())
    assert str(cut) in str(exc.value)


def test_fewer_decoded_frames_than_declared_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the container, a decode that stops short of the declared length is refused."""
    p = _wav(tmp_path / "t.wav", _tone(440, 1.0, SR))
    real = sf.SoundFile

    class ShortRead(real):  # type: ignore[misc, valid-type]
        def read(self, *args: object, **kwargs: object) -> np.ndarray:
            return super().read(*args, **kwargs)[: SR // 2]  # type: ignore[no-any-return]

    monkeypatch.setattr(sf, "SoundFile", ShortRead)
    with pytest.raises(AudioError, match="decoded 8000 frames.*declares 16000") as exc:
        load_audio(p, recipe=Recipe())
    assert str(p) in str(exc.value)


# -- every container libsndfile reads: walked for truncation, or refused ---------------------
def _sf_writer(fmt: str, ext: str, subtype: str = "PCM_16") -> Callable[[Path], Path]:
    def write(d: Path) -> Path:
        p = d / f"sf-{fmt.lower()}-{subtype.lower()}.{ext}"
        sf.write(str(p), _tone(440, 2.0, SR), SR, format=fmt, subtype=subtype)
        return p
    return write


def _sox_writer(ext: str, *opts: str) -> Callable[[Path], Path]:
    def write(d: Path) -> Path:
        import subprocess

        p = d / f"sox-{'-'.join(opts) or 'pcm'}.{ext}"
        subprocess.run(["sox", "-n", "-r", str(SR), "-c", "1", *opts, str(p),
                        "synth", "2", "sine", "440"], check=True, capture_output=True)
        return p
    return write


CONTAINER_FILES = {
    "wav": _sf_writer("WAV", "wav"), "wavex": _sf_writer("WAVEX", "wav"),
    "aiff": _sf_writer("AIFF", "aiff"), "aiff-float": _sf_writer("AIFF", "aiff", "FLOAT"),
    "au": _sf_writer("AU", "au"), "au-ulaw": _sf_writer("AU", "au", "ULAW"),
    "w64": _sf_writer("W64", "w64"), "rf64": _sf_writer("RF64", "rf64"),
    "nist": _sf_writer("NIST", "sph"), "caf": _sf_writer("CAF", "caf"),
    "svx": _sf_writer("SVX", "svx"),
    "sox-aiff": _sox_writer("aiff", "-b", "16"), "sox-aifc": _sox_writer("aifc", "-b", "16"),
    "sox-au": _sox_writer("au", "-b", "16"), "sox-nist": _sox_writer("sph", "-b", "16"),
    "sox-w64": _sox_writer("w64", "-b", "16"), "sox-caf": _sox_writer("caf", "-b", "16"),
    "sox-wav": _sox_writer("wav", "-b", "16"), "sox-wav-ulaw": _sox_writer("wav", "-e", "u-law"),
}


@pytest.mark.parametrize("kind", sorted(CONTAINER_FILES))
def test_every_accepted_container_loads_whole(tmp_path: Path, kind: str) -> None:
    a = load_audio(CONTAINER_FILES[kind](tmp_path), recipe=Recipe())
    assert len(a.samples) == 2 * SR


@pytest.mark.parametrize("fraction", [0.6, 0.95])
@pytest.mark.parametrize("kind", sorted(CONTAINER_FILES))
def test_every_accepted_container_cut_short_is_an_error(tmp_path: Path, kind: str,
                                                        fraction: float) -> None:
    full = CONTAINER_FILES[kind](tmp_path)
    cut = tmp_path / f"cut-{full.name}"
    data = full.read_bytes()
    cut.write_bytes(data[: int(len(data) * fraction)])
    try:  # what libsndfile alone would evaluate: a shorter clip, or at best an error
        assert sf.info(str(cut)).frames < 2 * SR
    except sf.LibsndfileError:
        pass
    with pytest.raises(AudioError) as exc:
        load_audio(cut, recipe=Recipe())
    msg = str(exc.value)
    assert msg.startswith(f"{cut}: ") and "truncated" in msg


def test_a_cut_container_names_what_is_missing(tmp_path: Path) -> None:
    full = CONTAINER_FILES["aiff"](tmp_path)
    data = full.read_bytes()
    cut = tmp_path / "cut.aiff"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    assert sf.info(str(cut)).duration == pytest.approx(1.2, abs=0.01)  # the finding
    ssnd = data.find(b"SSND")
    declared = int.from_bytes(data[ssnd + 4: ssnd + 8], "big")
    with pytest.raises(AudioError, match=rf"truncated AIFF: the header declares {declared} "
                       rf"bytes of audio data but only {len(cut.read_bytes()) - ssnd - 8} "
                       "are present"):
        load_audio(cut, recipe=Recipe())


@pytest.mark.parametrize(("fmt", "ext", "subtype"), [
    ("IRCAM", "sf", "PCM_16"), ("VOC", "voc", "PCM_16"), ("PAF", "paf", "PCM_16"),
    ("MAT5", "mat", "PCM_16"), ("AVR", "avr", "PCM_16"), ("PVF", "pvf", "PCM_16"),
    ("MPC2K", "mpc", "PCM_16"), ("WVE", "wve", "ALAW"), ("XI", "xi", "DPCM_16"),
    ("MP3", "mp3", "MPEG_LAYER_III"),
])
def test_containers_that_are_not_walked_are_refused(tmp_path: Path, fmt: str, ext: str,
                                                    subtype: str) -> None:
    p = _sf_writer(fmt, ext, subtype)(tmp_path)
    assert sf.info(str(p)).format == fmt  # libsndfile reads it (and would read it cut)
    with pytest.raises(AudioError) as exc:
        load_audio(p, recipe=Recipe())
    msg = str(exc.value)
    assert msg.startswith(f"{p}: libsndfile reads it as {fmt} (")
    assert "does not check for truncation" in msg and f"sox {p.name} {p.stem}.wav" in msg


def test_a_file_disguised_as_another_container_is_refused(tmp_path: Path) -> None:
    # an IRCAM file renamed .wav: the walked container must be the one libsndfile decodes
    p = _sf_writer("IRCAM", "sf")(tmp_path)
    fake = tmp_path / "fake.wav"
    fake.write_bytes(p.read_bytes())
    with pytest.raises(AudioError, match="libsndfile reads it as IRCAM"):
        load_audio(fake, recipe=Recipe())


@pytest.mark.parametrize("kind", sorted(CONTAINER_FILES))
def test_a_cut_anywhere_is_an_error(tmp_path: Path, kind: str) -> None:
    full = CONTAINER_FILES[kind](tmp_path).read_bytes()
    rng = np.random.default_rng(12)
    cut = tmp_path / "cut"
    for n in sorted({1, 12, 44, len(full) - 1, *rng.integers(1, len(full), 40).tolist()}):
        cut.write_bytes(full[:n])
        with pytest.raises(AudioError):
            load_audio(cut, recipe=Recipe())
