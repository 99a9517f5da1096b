"""Pass/fail thresholds of the shipped ASR suite, and why they are where they are.

These are *sanity gates* for a working pipeline on this suite's data, set from what the
recogniser class is known to achieve (published figures) plus a margin for the small,
partly out-of-domain test set; they are not numbers copied from one run. Regressions of a
few points are the baseline diff's job (``llaso compare``), not these gates'.

The data: read speech by a LibriVox volunteer (in-domain for both models), a few
short command-style utterances ("cards"), and flite TTS voices (out-of-domain: robotic
prosody, one Scottish voice, one 8 kHz telephone-band voice resampled to 16 kHz).
All WERs are computed after Whisper's English text normaliser on both sides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

# --- clean speech ------------------------------------------------------------------------
# Whisper tiny.en: 5.6% WER on LibriSpeech test-clean and 14.6% on test-other (Radford et
# al. 2022, table 8 / model card). Our clean set mixes in-domain read speech with TTS and a
# telephone-band voice, which is harder than test-clean but easier than spontaneous speech;
# 25% is ~2x the test-other figure: a working tiny.en passes with room, a broken pipeline
# (wrong sample rate, int8 overflow, truncated decoding, empty output) lands far above it.
# pocketsphinx en-us (2015 PTM model + generic 3-gram LM): CMU reports roughly 20-30% WER
# on clean read English; the 8 kHz voice is outside its 16 kHz training band. 45% leaves a
# margin for that voice and the TTS prosody, and still fails a pipeline that emits noise.
CLEAN_WER_MAX = {"whisper-tiny.en": 0.25, "pocketsphinx-en-us": 0.45}
# The upper end of the 95% cluster-bootstrap interval (resampling speakers) may exceed the
# point gate by the sampling spread of ~7 speakers; this bounds how bad the model may
# plausibly be, so a lucky draw of easy utterances cannot pass a bad model.
CLEAN_WER_CI_HIGH_MAX = {"whisper-tiny.en": 0.40, "pocketsphinx-en-us": 0.65}
# CER moves with WER but is less sensitive to word segmentation ("ill disposed" vs
# "ill-disposed"); about 0.6x the WER gate for both engines.
CLEAN_CER_MAX = {"whisper-tiny.en": 0.15, "pocketsphinx-en-us": 0.30}

# Real human read speech only (LibriVox, LibriSpeech's source): close to test-clean, so
# Whisper tiny.en at 5.6% gets a 3x margin for n=5 utterances of one reader; pocketsphinx
# at ~25% typical gets 45%.
LIBRIVOX_WER_MAX = {"whisper-tiny.en": 0.15, "pocketsphinx-en-us": 0.45}

# --- additive noise ------------------------------------------------------------------------
# SNR measured on speech frames. Whisper's training data is noisy web audio: published
# noise-robustness curves (Radford et al. 2022, fig. 5, LibriSpeech + white/pub noise) show
# tiny-size models roughly doubling WER at 20 dB, reaching ~20-40% at 10 dB and ~40-70% at
# 5 dB white noise. Pink noise puts its energy in the low band, leaving the 2-8 kHz
# consonant cues less masked than white noise at the same SNR, so it is usually milder; both
# get the gate of the harsher (white) case. The gates add ~15 points to the upper end of those
# ranges.
# pocketsphinx has no noise-robust front end (MFCC + CMN into clean-trained GMMs). Clean-
# trained large-vocabulary HMM systems go from ~15% WER clean to ~50-70% under additive noise
# around 10-20 dB (Aurora-4 clean-training baselines), and near 100% below that. Its 20 dB
# gate (85%) is that range plus margin. At 10 and 5 dB (white noise above all) it is at that
# floor: it still returns words for nearly every utterance, but hardly any are right, so no
# WER gate can sit well below 1.0 and still pass it. The gate there is 0.99: WER < 1 means
# more hits than insertions (S + D + I < S + D + H), i.e. the decoder still recognises
# something, and 0.99 asks for one net hit per hundred words. A recogniser that returns
# nothing scores exactly 1.0 (every word deleted) and fails it; so does one that emits as
# many wrong words as there are reference words. What separates a dead pipeline from a
# drowned decoder *with margin* is the empty-output check below, which every test applies.
NOISY_WER_MAX: dict[str, dict[float, float]] = {
    "whisper-tiny.en": {20.0: 0.35, 10.0: 0.60, 5.0: 0.85},
    "pocketsphinx-en-us": {20.0: 0.85, 10.0: 0.99, 5.0: 0.99},
}
# A team's own recogniser (no entry above): only the sanity bound, more hits than
# insertions at every SNR (below 1.0, so empty output fails). Set your own gates for a real
# evaluation.
DEFAULT_NOISY_WER_MAX: dict[float, float] = {20.0: 0.99, 10.0: 0.99, 5.0: 0.99}

# --- output present ----------------------------------------------------------------------
# The share of utterances with reference words whose transcript is empty (after the same
# normaliser as the WER). A working recogniser returns words for nearly every utterance of
# speech, even at 5 dB SNR where it gets most of them wrong: an empty transcript there is
# the exception (pocketsphinx, drowned at 5 dB, occasionally returns nothing for one of
# the 8 noisy utterances; the 25% bound allows two). More than a quarter empty means the
# pipeline drops audio (muted or mis-scaled input, a wrong sample rate, a decoder that
# fails silently), whatever the WER gate says.
MAX_EMPTY_SHARE = 0.25


def noisy_gate(engine: str, snr: float) -> float:
    """WER gate for ``engine`` at ``snr`` dB: the gate of the nearest SNR at or below it."""
    table = NOISY_WER_MAX.get(engine, DEFAULT_NOISY_WER_MAX)
    below = [s for s in table if s <= snr]
    return table[max(below)] if below else table[min(table)]


def empty_output_problem(
    ids: Sequence[str],
    references: Sequence[str],
    hypotheses: Sequence[str],
    *,
    normalize: Callable[[str], str],
    max_share: float = MAX_EMPTY_SHARE,
) -> str | None:
    """None, or why too many utterances with reference words got an empty transcript."""
    if not len(ids) == len(references) == len(hypotheses):
        raise ValueError(
            f"{len(ids)} ids, {len(references)} references and {len(hypotheses)} hypotheses"
        )
    spoken = [i for i, r in enumerate(references) if normalize(r).split()]
    empty = [ids[i] for i in spoken if not normalize(hypotheses[i]).split()]
    if not spoken or len(empty) <= max_share * len(spoken):
        return None
    shown = ", ".join(empty[:10]) + (" ..." if len(empty) > 10 else "")
    return (
        f"{len(empty)} of {len(spoken)} utterances with reference words got an empty "
        f"transcript (at most {max_share:.0%} allowed): {shown}. The recogniser returns "
        "nothing for this audio: check the input it receives (sample rate, scaling, "
        "channels) and that decoding does not fail silently."
    )
