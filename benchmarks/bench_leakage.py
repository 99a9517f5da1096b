"""Leakage check at scale: 10k eval items against 1M training documents of 100 words.

Prints the time, the peak resident memory (goal: within 2 GB) and the recall on planted
exact and edited copies (goal: at least 95%), plus flags on unplanted items. The training
side is generated on the fly and streamed (a generator), as a file reader would stream it.

    .venv/bin/python benchmarks/bench_leakage.py [--train 1000000] [--eval 10000]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Iterator

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "metrics"))

from leakage_corpus import Corpus  # noqa: E402

from llaso_pytest.metrics.leakage import leakage  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=1_000_000)
    ap.add_argument("--eval", type=int, default=10_000)
    ap.add_argument("--planted", type=int, default=200, help="exact and edited copies, each")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    corpus = Corpus(seed=args.seed, n_eval=args.eval)
    plan = corpus.plant(n_train=args.train, n_exact=args.planted, n_edited=args.planted)

    def train() -> Iterator[tuple[str, str]]:
        yield from corpus.training(args.train, plan)

    t0 = time.perf_counter()
    for _ in Corpus(seed=args.seed, n_eval=args.eval).training(args.train, plan):
        pass
    gen = time.perf_counter() - t0
    c0 = time.process_time()
    t0 = time.perf_counter()
    res = leakage(corpus.eval_texts, train(), ids=corpus.eval_ids)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    planted = plan.planted_ids
    flagged = set(res.flagged)
    exact_hit = np.mean([i in flagged for i in plan.exact_ids])
    edited_hit = np.mean([i in flagged for i in plan.edited_ids])
    false = sorted(flagged - planted)
    print(f"leakage: {args.eval} eval items x {res.n_train} training docs of "
          f"{corpus.doc_words} words")
    print(f"  time {elapsed:.1f} s, of which generating the streamed corpus about {gen:.1f} s; "
          f"the check alone {elapsed - gen:.1f} s ({(elapsed - gen) / res.n_train * 1e6:.0f} "
          "us per training document); CPU time (user+sys) of check and generation "
          f"{cpu:.1f} s; "
          f"peak RSS {peak_mb:.0f} MB (goal <= 2048 MB: ratio {peak_mb / 2048:.2f})")
    print(f"  recall exact {exact_hit:.3f}, edited {edited_hit:.3f} (goal >= 0.95); "
          f"unplanted flagged {len(false)}")
    print(f"  load average {os.getloadavg()[0]:.2f}")
    return 0 if peak_mb <= 2048 and min(exact_hit, edited_hit) >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
