"""A tiny Hugging Face `evaluate` metric shipped with the tests (no Hub access needed):
the share of reference words that appear in the prediction."""

import datasets
import evaluate

_DESCRIPTION = "Share of reference words present in the prediction (test fixture)."
_KWARGS_DESCRIPTION = "predictions: list of str; references: list of str"


class WordOverlap(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        scores = []
        for p, r in zip(predictions, references, strict=True):
            rw = r.split()
            pw = set(p.split())
            scores.append(sum(w in pw for w in rw) / len(rw) if rw else 0.0)
        return {"overlap": sum(scores) / len(scores)}
