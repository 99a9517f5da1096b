"""A team's ASR eval on its own Kaldi data directory: load it, run the engine, gate.

``data/`` is an ordinary Kaldi data directory (``wav.scp``, ``text``, ``utt2spk``,
``utt2dur``); here its recordings are the LibriVox and "cards" utterances of Debian's
``pocketsphinx-testdata``. Run it with any registered engine, e.g.::

    pytest docs/examples/asr_kaldi --llaso-speech-engines=pocketsphinx-en-us
"""

from pathlib import Path

from llaso_pytest import cases

DATA = Path(__file__).parent / "data"
CORPUS = cases.load(DATA, audio_root="/usr/share/pocketsphinx/test/data")


def test_kaldi_corpus(llaso_asr, llaso_asr_engine):
    scores = llaso_asr(CORPUS)  # WER, CER, RTF, RTFx, latency, throughput: recorded
    scores.record_speakers()  # wer/speaker=...
    scores.record_error_classes()  # errors/numbers ("ten of clubs", "five five")
    # Sanity gates of the example (both shipped engines pass them with room); set yours
    # from what your model class achieves, and leave regressions to `llaso compare`.
    assert scores.wer < 0.5


def test_kaldi_corpus_in_noise(llaso_asr, llaso_asr_engine):
    # below 1.0: more words recognised than inserted (an engine returning nothing fails)
    assert llaso_asr(CORPUS, condition="white-20dB").wer < 1.0
