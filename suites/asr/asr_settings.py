"""What the shipped ASR suite evaluates: data selection, conditions, normalisation."""

from __future__ import annotations

from pathlib import Path

ASR_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "asr"

# Modest on purpose: the whole suite must finish in a few minutes on 2 CPU cores.
# Clean: every speaker (5 LibriVox + 5 "cards" utterances, 5 flite voices x 6 Harvard
# sentences, two of which contain numbers) = 40 utterances, 7 speakers.
CLEAN_SENTENCES = ("h01-01", "h01-02", "h01-07", "h01-09", "h02-03", "h02-10")
# Noisy: 4 LibriVox utterances + 4 full-band 16 kHz voices x 1 sentence = 8 utterances,
# 5 speakers, at each of 6 conditions. (The 8 kHz voice and the very short "cards"
# utterances are left out: their SNR would be dominated by band limits and edge frames.)
NOISY_LIBRIVOX = ("librivox-0870", "librivox-0890", "librivox-0920", "librivox-0930")
NOISY_VOICES = ("kal16", "rms", "slt", "awb")
NOISY_SENTENCES = ("h02-03",)
NOISY_CONDITIONS = ("white-20dB", "white-10dB", "white-5dB", "pink-20dB", "pink-10dB", "pink-5dB")

NORMALIZE = "whisper"  # Whisper's English normaliser on refs and hyps (numbers, spellings)
N_BOOT = 1000
# Words whose errors the breakdown reports as a class (proper nouns of the LibriVox text;
# transcripts are lower-case, so capitalisation cannot find them).
PROPER_NOUNS = ("john", "dashwood")
