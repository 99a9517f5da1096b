"""cases.load: each reader on a small file it makes, and every malformed input named."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cases_testutil import kaldi_dir, write_jsonl, write_lines, write_wav

from llaso_pytest import cases
from llaso_pytest.cases import CasesError

ROWS = [{"id": "q1", "question": "2+2?", "answers": ["4", "four"]},
        {"id": "q2", "question": "capital of France?", "answers": ["Paris"]},
        {"id": "q3", "question": "color of the sky?", "answers": ["blue"]}]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _raises(match: str) -> pytest.RaisesContext[CasesError]:
    return pytest.raises(CasesError, match=match)


# -- JSONL ---------------------------------------------------------------------------------
def test_jsonl_cases_keep_order_ids_fields_and_the_file_hash(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "qa" / "data.jsonl", ROWS)
    loaded = cases.load(path)
    assert loaded.ids == ("q1", "q2", "q3") and len(loaded) == 3
    assert loaded[0]["answers"] == ["4", "four"] and loaded[1].id == "q2"
    assert dict(loaded[2]) == ROWS[2]
    assert loaded.sha256 == _sha(path)  # the file's own sha256: sha256sum shows the same
    assert loaded.name == "qa/data.jsonl" and loaded.format == "jsonl"
    assert loaded[1].where == f"{path}:2"
    assert loaded.by_id("q3") is loaded[2]
    assert loaded.column("question")[1] == "capital of France?"
    prov = loaded.provenance()
    assert prov["sha256"] == _sha(path) and prov["n"] == 3 and prov["id_field"] == "id"


def test_missing_field_names_the_case_and_its_fields(tmp_path: Path) -> None:
    loaded = cases.load(write_jsonl(tmp_path / "d.jsonl", ROWS))
    with pytest.raises(KeyError, match=r"case 'q1' \(.*d.jsonl:1\) has no field 'answer'.*"
                                       r"'answers'"):
        loaded[0]["answer"]
    assert loaded[0].get("answer") is None


def test_id_field_is_configurable(tmp_path: Path) -> None:
    rows = [{"qid": 7, "q": "a"}, {"qid": 8, "q": "b"}]
    loaded = cases.load(write_jsonl(tmp_path / "d.jsonl", rows), id_field="qid")
    assert loaded.ids == ("7", "8")


@pytest.mark.parametrize(("name", "lines", "message"), [
    ("d.jsonl", ['{"id": "a"}', '{"q": 1}'], r"d.jsonl:2: no 'id' field .*pass id_field="),
    ("d.jsonl", ['{"id": "a"}', '', '{"id": "a"}'],
     r"d.jsonl:3: duplicate case id 'a' \(first at .*:1\)"),
    ("d.jsonl", ['{"id": "a"}', '{"id": ""}'], r"d.jsonl:2: id field 'id' is empty"),
    ("d.jsonl", ['{"id": ["a"]}'], r"d.jsonl:1: id field 'id' is list"),
    ("d.jsonl", ['{"id": true}'], r"d.jsonl:1: id field 'id' is bool"),
    ("d.jsonl", ['{"id": "a"}', '{"id": "b",'], r"d.jsonl: line 2: not valid JSON"),
    ("d.jsonl", ['["a"]'], r"d.jsonl: line 1: expected a JSON object, got list"),
    ("d.jsonl", ['{"id": "a", "id": "b"}'], r"d.jsonl: line 1: duplicate key 'id'"),
    ("d.jsonl", [''], r"d.jsonl: the dataset holds no cases"),
    ("d.csv", ["id,q", "a,x,extra"], r"d.csv:2: 3 cells but the header has 2 columns"),
    ("d.csv", ["id,q", "a"], r"d.csv:2: 1 cells but the header has 2 columns"),
    ("d.csv", ["id,q,q", "a,x,y"],
     r"d.csv:1: the header names column\(s\) 'q' more than once"),
    ("d.csv", ["id,,q", "a,x,y"], r"d.csv:1: column 2 of the header has no name"),
    ("d.csv", ["id,q", "a,x", "a,y"],
     r"d.csv:3: duplicate case id 'a' \(first at .*d.csv:2\)"),
    ("d.csv", ["id,q", ",x"], r"d.csv:2: id field 'id' is empty"),
    ("d.csv", ["key,q", "a,x"], r"d.csv:2: no 'id' field .*'key', 'q'"),
    ("d.csv", ['id,q', 'a,"x'], r"d.csv:2: malformed CSV"),
    ("d.csv", [], r"d.csv: empty file"),
])
def test_malformed_text_datasets_are_named(tmp_path: Path, name: str, lines: list[str],
                                           message: str) -> None:
    with _raises(message):
        cases.load(write_lines(tmp_path / name, lines))


def test_jsonl_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"id": "a"}\n{"id": "\xff"}\n')
    with _raises(r"d.jsonl: line 2: not UTF-8"):
        cases.load(path)


# -- CSV -----------------------------------------------------------------------------------
def test_csv_rows_are_cases_with_text_values(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "d.csv", ["id,question,answer", 'a,"x, y",1', "", "b,z,2"])
    loaded = cases.load(path)
    assert loaded.ids == ("a", "b")
    assert dict(loaded[0]) == {"id": "a", "question": "x, y", "answer": "1"}
    assert loaded[1].where == f"{path}:4" and loaded.sha256 == _sha(path)


def test_tsv_and_a_delimiter_option(tmp_path: Path) -> None:
    tsv = write_lines(tmp_path / "d.tsv", ["id\tq", "a\tx,y"])
    assert cases.load(tsv)[0]["q"] == "x,y"
    semi = write_lines(tmp_path / "d.csv", ["id;q", "a;x"])
    assert cases.load(semi, delimiter=";")[0]["q"] == "x"


def test_csv_bad_delimiter_option(tmp_path: Path) -> None:
    with _raises(r"delimiter= must be one character"):
        cases.load(write_lines(tmp_path / "d.csv", ["id", "a"]), delimiter="::")


# -- Parquet -------------------------------------------------------------------------------
def test_parquet_rows_are_cases(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    loaded = cases.load(path)
    assert loaded.ids == ("q1", "q2", "q3") and loaded[0]["answers"] == ["4", "four"]
    assert loaded[2].where == f"{path} row 3" and loaded.sha256 == _sha(path)


def test_parquet_duplicate_and_missing_ids_name_the_row(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": "a"}, {"id": "b"}, {"id": "a"}]), path)
    with _raises(r"d.parquet row 3: duplicate case id 'a' \(first at .*d.parquet row 1\)"):
        cases.load(path)
    pq.write_table(pa.Table.from_pylist([{"id": "a"}, {"id": None}]), path)
    with _raises(r"d.parquet row 2: id field 'id' is NoneType"):
        cases.load(path)


def test_a_corrupt_parquet_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with _raises(r"d.parquet: not a readable Parquet file"):
        cases.load(path)


# -- Hugging Face save_to_disk -------------------------------------------------------------
def test_hf_saved_dataset_folder(tmp_path: Path) -> None:
    import datasets

    folder = tmp_path / "hf"
    datasets.Dataset.from_list(ROWS).save_to_disk(str(folder))
    loaded = cases.load(folder)
    assert loaded.format == "hf" and loaded.ids == ("q1", "q2", "q3")
    assert loaded[1]["answers"] == ["Paris"] and loaded[1].where == f"{folder} row 2"
    assert "dataset_info.json" in loaded.files
    assert any(name.endswith(".arrow") for name in loaded.files)
    # the same data saved again has the same content hash (state.json's fingerprint aside)
    again = tmp_path / "hf2"
    datasets.Dataset.from_list(ROWS).save_to_disk(str(again))
    assert cases.load(again).sha256 == loaded.sha256
    changed = tmp_path / "hf3"
    datasets.Dataset.from_list([*ROWS[:2], {**ROWS[2], "question": "?"}]).save_to_disk(
        str(changed))
    assert cases.load(changed).sha256 != loaded.sha256


def test_hf_dataset_dict_needs_a_split(tmp_path: Path) -> None:
    import datasets

    folder = tmp_path / "dd"
    datasets.DatasetDict({"test": datasets.Dataset.from_list(ROWS),
                          "train": datasets.Dataset.from_list(ROWS[:1])}).save_to_disk(
        str(folder))
    with _raises(r"dd: a DatasetDict with splits test, train; pass split="):
        cases.load(folder)
    with _raises(r"dd: no split 'dev'; its splits: test, train"):
        cases.load(folder, split="dev")
    test = cases.load(folder, split="test")
    assert test.ids == ("q1", "q2", "q3") and test[0].where == f"{folder}[test] row 1"


def test_hf_folder_missing_its_data_is_named(tmp_path: Path) -> None:
    import datasets

    folder = tmp_path / "hf"
    datasets.Dataset.from_list(ROWS).save_to_disk(str(folder))
    for arrow in folder.glob("*.arrow"):
        arrow.unlink()
    with _raises(r"hf: data-.*\.arrow \(listed in state.json\) is missing"):
        cases.load(folder)


# -- Kaldi ---------------------------------------------------------------------------------
UTTS = {"u1": ("spk1", "turn the lights off", 0.5), "u2": ("spk1", "call my sister", 0.4),
        "u3": ("spk2", "play some jazz", 0.6)}


def test_kaldi_dir_gives_audio_text_speaker_and_hashes(tmp_path: Path) -> None:
    data = kaldi_dir(tmp_path, UTTS)
    loaded = cases.load(data)
    assert loaded.format == "kaldi" and loaded.ids == ("u1", "u2", "u3")
    c = loaded.by_id("u3")
    assert c["text"] == "play some jazz" and c["speaker"] == "spk2"
    assert c["audio"] == str((tmp_path / "audio" / "u3.wav").resolve())
    assert c["recording"] == "u3" and c["offset"] == 0.0 and c["duration"] is None
    assert c["audio_sha256"] == _sha(tmp_path / "audio" / "u3.wav")
    assert c.where == f"{data / 'text'}:3"
    assert set(loaded.files) == {"wav.scp", "text", "utt2spk"}
    audio = loaded.provenance()["audio"]
    assert audio["checked"] is True and audio["n_files"] == 3 and audio["n_pinned"] == 0
    assert "pin them" in audio["note"]
    # the content hash covers the audio: another file changes it
    write_wav(tmp_path / "audio" / "u3.wav", 0.6, tone=9)
    assert cases.load(data).sha256 != loaded.sha256


def test_kaldi_segments_and_utt2dur(tmp_path: Path) -> None:
    data = kaldi_dir(tmp_path, UTTS, segments=True)
    loaded = cases.load(data)
    u2 = loaded.by_id("u2")
    assert u2["recording"] == "rec1" and u2["offset"] == pytest.approx(0.5)
    assert u2["duration"] == pytest.approx(0.4)
    assert len({c["audio_sha256"] for c in loaded}) == 1
    assert "segments" in loaded.files
    plain = kaldi_dir(tmp_path / "b", UTTS)
    write_lines(plain / "utt2dur", ["u1 0.5", "u2 0.4", "u3 0.6"])
    assert cases.load(plain).by_id("u1")["duration"] == 0.5


def test_kaldi_audio_root_option(tmp_path: Path) -> None:
    data = kaldi_dir(tmp_path, UTTS)
    write_lines(data / "wav.scp", [f"{u} audio/{u}.wav" for u in UTTS])
    loaded = cases.load(data, audio_root=tmp_path)
    assert loaded[0]["audio"] == str((tmp_path / "audio" / "u1.wav").resolve())


@pytest.mark.parametrize(("file", "lines", "message"), [
    ("text", ["u1 a", "u1 b"], r"text:2: duplicate key 'u1' \(first on line 1\)"),
    ("utt2spk", ["u1 spk1", "u2 spk1"], r"text:3: utterance 'u3' has no speaker in .*utt2spk"),
    ("utt2spk", ["u1 spk1", "u2 spk1", "u3 spk2", "u4 spk2"],
     r"utt2spk:4: utterance 'u4' is not in .*text"),
    ("utt2spk", ["u1", "u2 spk1", "u3 spk2"], r"utt2spk:1: 'u1' has no value"),
    ("wav.scp", ["u1 a.wav", "u2 b.wav"], r"text:3: recording 'u3' is not in .*wav.scp"),
    ("wav.scp", ["u1 sox a.flac -t wav - |", "u2 b.wav", "u3 c.wav"],
     r"wav.scp:1: the recording is a command .*runs no shell command"),
    ("wav.scp", ["u1 feats.ark:123", "u2 b.wav", "u3 c.wav"],
     r"wav.scp:1: the recording is an archive offset"),
    ("wav.scp", ["u1 ../audio/u1.wav", "u2 ../audio/missing.wav", "u3 ../audio/u3.wav"],
     r"text:2: case 'u2': audio file .*missing.wav does not exist"),
    ("segments", ["u1 rec1 0 0.5", "u2 rec1 0.5"],
     r"segments:2: expected 'UTT RECORDING START END'"),
    ("segments", ["u1 rec1 0 0.5", "u2 rec1 x 1"], r"segments:2: start 'x' is not a number"),
    ("segments", ["u1 rec1 0 0.5", "u2 rec1 0.9 0.5"], r"segments:2: end 0.5 is not after"),
    ("segments", ["u1 rec1 0 0.5", "u2 rec1 0.5 1"], r"text:3: utterance 'u3' has no entry in"),
    ("segments", ["u1 rec1 0 0.5", "u2 recX 0.5 1", "u3 rec1 1 1.5"],
     r"segments:2: recording 'recX' is not in .*wav.scp"),
    ("utt2dur", ["u1 0.5", "u2 -1", "u3 1"], r"utt2dur:2: duration -1 must be positive"),
])
def test_malformed_kaldi_is_named(tmp_path: Path, file: str, lines: list[str],
                                  message: str) -> None:
    data = kaldi_dir(tmp_path, UTTS, segments=file == "segments")
    write_lines(data / file, lines)
    with _raises(message):
        cases.load(data)


def test_kaldi_dir_without_a_required_file(tmp_path: Path) -> None:
    data = kaldi_dir(tmp_path, UTTS)
    (data / "utt2spk").unlink()
    with _raises(r"is a folder of no known layout"):
        cases.load(data)
    with _raises(r"not a Kaldi data directory: utt2spk missing"):
        cases.load(data, format="kaldi")


# -- NeMo ----------------------------------------------------------------------------------
def _nemo(tmp_path: Path, extra: dict[str, object] | None = None) -> Path:
    for i, (utt, (_, _, seconds)) in enumerate(UTTS.items()):
        write_wav(tmp_path / "wavs" / f"{utt}.wav", seconds, tone=i)
    rows = [{"audio_filepath": f"wavs/{utt}.wav", "text": text, "duration": seconds,
             "speaker": spk, **(extra or {})} for utt, (spk, text, seconds) in UTTS.items()]
    return write_jsonl(tmp_path / "test_manifest.json", rows)


def test_nemo_manifest(tmp_path: Path) -> None:
    path = _nemo(tmp_path, {"lang": "en"})
    loaded = cases.load(path)
    assert loaded.format == "nemo" and loaded.ids == ("wavs/u1", "wavs/u2", "wavs/u3")
    c = loaded[1]
    assert c["audio"] == str((tmp_path / "wavs" / "u2.wav").resolve())
    assert c["text"] == "call my sister" and c["duration"] == 0.4 and c["offset"] == 0.0
    assert c["speaker"] == "spk1" and c["lang"] == "en" and c["recording"] == "wavs/u2.wav"
    assert c["audio_sha256"] == _sha(tmp_path / "wavs" / "u2.wav")
    assert c.where == f"{path}:2"


def test_nemo_ids_from_a_column_and_segments(tmp_path: Path) -> None:
    write_wav(tmp_path / "long.wav", 2.0)
    rows = [{"audio_filepath": "long.wav", "text": "a", "duration": 0.5, "offset": 0.0},
            {"audio_filepath": "long.wav", "text": "b", "duration": 0.5, "offset": 1.25}]
    path = write_jsonl(tmp_path / "m.nemo.jsonl", rows)
    assert cases.load(path).ids == ("long", "long@1.25")
    rows = [{**r, "utt": f"x{i}"} for i, r in enumerate(rows)]
    path = write_jsonl(tmp_path / "m.nemo.jsonl", rows)
    assert cases.load(path, id_field="utt").ids == ("x0", "x1")


@pytest.mark.parametrize(("row", "message"), [
    ({"text": "a", "duration": 1}, r"m.json:2: 'audio_filepath' must be a non-empty string"),
    ({"audio_filepath": "wavs/u1.wav", "duration": 1},
     r"m.json:2: 'text' must be a string"),
    ({"audio_filepath": "wavs/u1.wav", "text": "a"}, r"m.json:2: no 'duration'"),
    ({"audio_filepath": "wavs/u1.wav", "text": "a", "duration": "1"},
     r"m.json:2: 'duration' is '1'; expected a number"),
    ({"audio_filepath": "wavs/u1.wav", "text": "a", "duration": 0},
     r"m.json:2: 'duration' 0.0 must be positive"),
    ({"audio_filepath": "wavs/u1.wav", "text": "a", "duration": 1, "offset": -2},
     r"m.json:2: 'offset' -2 is negative"),
    ({"audio_filepath": "wavs/nope.wav", "text": "a", "duration": 1},
     r"m.json:2: case 'wavs/nope': audio file .*nope.wav does not exist"),
    ({"audio_filepath": "wavs/u2.wav", "text": "a", "duration": 1, "offset": 0.5},
     None),
])
def test_malformed_nemo_is_named(tmp_path: Path, row: dict[str, object],
                                 message: str | None) -> None:
    _nemo(tmp_path)
    first = {"audio_filepath": "wavs/u1.wav", "text": "a", "duration": 0.5}
    path = write_jsonl(tmp_path / "m.json", [first, row])
    if message is None:  # a valid segment line
        assert cases.load(path, format="nemo").ids == ("wavs/u1", "wavs/u2@0.5")
        return
    with _raises(message):
        cases.load(path, format="nemo")


def test_nemo_duplicate_audio_lines_are_duplicate_ids(tmp_path: Path) -> None:
    _nemo(tmp_path)
    row = {"audio_filepath": "wavs/u1.wav", "text": "a", "duration": 0.5}
    path = write_jsonl(tmp_path / "m.json", [row, row])
    with _raises(r"m.json:2: duplicate case id 'wavs/u1' \(first at .*m.json:1\)"):
        cases.load(path, format="nemo")


# -- audio pins ----------------------------------------------------------------------------
def _pin(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llaso_pytest.speech.manifest", "pin",
                           str(folder)], capture_output=True, text=True, check=False,
                          timeout=120, env={**os.environ, "PYTHONWARNINGS": "error"})


def test_pin_command_pins_a_folder_and_loads_check_against_it(tmp_path: Path) -> None:
    data = kaldi_dir(tmp_path, UTTS)
    out = _pin(tmp_path / "audio")
    assert out.returncode == 0, out.stderr
    assert "pinned 3 audio file(s)" in out.stdout and "added: u1.wav" in out.stdout
    pins = json.loads((tmp_path / "audio" / "llaso-audio.json").read_text())
    entry = next(f for f in pins["files"] if f["path"] == "u2.wav")
    assert entry["sha256"] == _sha(tmp_path / "audio" / "u2.wav")
    assert entry["duration"] == pytest.approx(0.4) and entry["sample_rate"] == 16000
    loaded = cases.load(data)
    audio = loaded.provenance()["audio"]
    assert audio["n_pinned"] == 3 and audio["pins"] == [str(tmp_path / "audio" /
                                                            "llaso-audio.json")]
    # an altered file is refused, naming the case, the file, both hashes and the fix
    write_wav(tmp_path / "audio" / "u2.wav", 0.4, tone=7)
    with _raises(r"text:2: case 'u2': .*u2.wav has sha256 [0-9a-f]{64}, but .*llaso-audio.json "
                 r"pins [0-9a-f]{64}.*pin the folder again \(python -m llaso_pytest.speech."
                 r"manifest pin"):
        cases.load(data)
    again = _pin(tmp_path / "audio")
    assert "changed: u2.wav" in again.stdout
    assert cases.load(data).by_id("u2")["audio_sha256"] == _sha(tmp_path / "audio" / "u2.wav")
    # a file the pins do not list is refused too
    write_wav(tmp_path / "audio" / "u4.wav", 0.3)
    write_lines(data / "wav.scp", ["u1 ../audio/u1.wav", "u2 ../audio/u2.wav",
                                   "u3 ../audio/u4.wav"])
    with _raises(r"text:3: case 'u3': audio file .*u4.wav is not pinned in"):
        cases.load(data)


def test_a_segment_beyond_the_pinned_duration_is_named(tmp_path: Path) -> None:
    path = _nemo(tmp_path)
    assert _pin(tmp_path / "wavs").returncode == 0
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[2]["duration"] = 2.0
    write_jsonl(path, rows)
    with _raises(r"test_manifest.json:3: case 'wavs/u3': the dataset says offset 0 s and "
                 r"duration 2 s, but .*u3.wav lasts 0.6 s"):
        cases.load(path)


def test_check_audio_false_records_that_nothing_was_checked(tmp_path: Path) -> None:
    data = kaldi_dir(tmp_path, UTTS)
    write_lines(data / "wav.scp", [f"{u} /nowhere/{u}.wav" for u in UTTS])
    loaded = cases.load(data, check_audio=False)
    assert loaded[0]["audio_sha256"] is None
    assert loaded.provenance()["audio"]["checked"] is False


def test_pin_command_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    out = _pin(empty)
    assert out.returncode == 2 and "no audio files to pin" in out.stderr
    assert _pin(tmp_path / "missing").returncode == 2
    bad = tmp_path / "bad"
    write_wav(bad / "a.wav", 0.1)
    (bad / "llaso-audio.json").write_text("{}")
    out = _pin(bad)
    assert out.returncode == 2 and "not a llaso audio pins file" in out.stderr


# -- the registry --------------------------------------------------------------------------
def test_unknown_format_suffix_and_options_are_named(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", ROWS)
    with _raises(r"unknown dataset format 'xml'; known formats: jsonl, csv, parquet, hf, "
                 r"kaldi, nemo"):
        cases.load(path, format="xml")
    other = write_lines(tmp_path / "d.txt", ["x"])
    with _raises(r"d.txt: cannot tell the dataset format from the file name; pass format="):
        cases.load(other)
    with _raises(r"the jsonl reader takes no option split; its options: none"):
        cases.load(path, split="test")
    with _raises(r"no such dataset file or folder"):
        cases.load(tmp_path / "nope.jsonl")


def test_a_reader_of_your_own(tmp_path: Path) -> None:
    def read_lines(path: Path, options: object) -> cases.Table:
        lines = path.read_text().splitlines()
        return cases.Table(rows=[cases.Row({"id": f"l{i}", "text": t}, f"{path}:{i}")
                                 for i, t in enumerate(lines, 1)],
                           files={path.name: _sha(path)})

    reader = cases.Reader(name="lines-test", read=read_lines, suffixes=(".lines",),
                          description="one case per line")
    cases.register_reader(reader)
    try:
        path = write_lines(tmp_path / "d.lines", ["hello", "world"])
        loaded = cases.load(path)
        assert loaded.format == "lines-test" and loaded.column("text") == ["hello", "world"]
        with _raises(r"a dataset reader named 'lines-test' is already registered"):
            cases.register_reader(cases.Reader(name="lines-test", read=read_lines,
                                               description="again"))
    finally:
        from llaso_pytest.cases import core

        core._READERS.pop("lines-test")


def test_cases_import_no_pytest_and_no_heavy_library() -> None:
    code = ("import sys, llaso_pytest.cases as c\n"
            "c.readers()\n"
            "bad = sorted(m for m in ('pytest', 'numpy', 'pyarrow', 'datasets') "
            "if m in sys.modules)\n"
            "assert not bad, bad\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False, timeout=120)
    assert out.returncode == 0, out.stderr


def test_repr_is_short(tmp_path: Path) -> None:
    loaded = cases.load(write_jsonl(tmp_path / "d.jsonl", ROWS))
    assert re.fullmatch(r"Cases\('.*d.jsonl', jsonl, n=3, sha256=[0-9a-f]{12}\)", repr(loaded))
