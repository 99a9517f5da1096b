"""Item 4 of issue 13: inside a test, metrics default their seed to the session seed and add
the datasets the test loaded to their signature; the core reads a context, not pytest."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llaso_pytest import context, metrics
from llaso_pytest.errors import LlasoError

pytest_plugins = ["pytester"]

REFS = ["a b c", "d e f", "g h", "i j k l", "m n", "o p q"]
HYPS = ["a b x", "d e f", "g", "i j k l m", "m n", "o q"]


def test_outside_a_test_the_default_seed_is_zero() -> None:
    """Contract 1 as before for a notebook: seed 0, and no datasets field. (This test runs
    under the plugin, so a fresh ``contextvars.Context`` stands for "no test running".)"""
    import contextvars

    fresh = contextvars.Context().run(lambda: (context.current(), metrics.wer(REFS, HYPS)))
    assert fresh[0] is None
    res = fresh[1]
    assert res.signature.fields["seed"] == 0 and "datasets" not in res.signature.fields
    assert res.ci == metrics.wer(REFS, HYPS, seed=0).ci


def test_context_seed_and_datasets() -> None:
    ctx = context.EvalContext(seed=99, nodeid="t.py::t")
    with context.activate(ctx):
        context.note_dataset("qa", "ab" * 32)
        res = metrics.wer(REFS, HYPS)
        explicit = metrics.wer(REFS, HYPS, seed=0)  # an explicit 0 stays 0
        context.note_dataset("qa", "cd" * 32)  # reloaded with other content: it counts now
        later = metrics.wer(REFS, HYPS)
        with pytest.raises(LlasoError, match="two non-empty strings"):
            context.note_dataset("qa", "")
    assert res.signature.fields["seed"] == 99
    assert res.ci == metrics.wer(REFS, HYPS, seed=99).ci
    assert res.signature.fields["datasets"] == "qa@" + "ab" * 8
    assert later.signature.fields["datasets"] == "qa@" + "cd" * 8
    assert explicit.signature.fields["seed"] == 0
    import contextvars

    def outside() -> None:
        context.note_dataset("ignored", "ef" * 32)  # outside a test: nothing to note into

    contextvars.Context().run(outside)


def test_core_stays_pytest_free() -> None:
    code = ("import sys, llaso_pytest.context, llaso_pytest.metrics, llaso_pytest.speech.scoring,"
            " llaso_pytest.speech.corpus, llaso_pytest.speech.transcripts\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'pytest' "
            "or m.startswith('_pytest'))))")
    out = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True,
                         text=True, check=True)
    assert json.loads(out.stdout) == []


def test_in_a_test_metrics_read_the_plugin_context(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        import pytest
        from llaso_pytest import metrics
        from llaso_pytest.context import note_dataset

        REFS = {REFS!r}
        HYPS = {HYPS!r}

        class Case(dict):
            llaso_dataset = ("qa-cases", "12" * 32)

        @pytest.mark.parametrize("case", [Case(q="x")])
        def test_param(case, record_metric):
            record_metric(metrics.wer(REFS, HYPS))

        def test_body(record_metric):
            note_dataset("dev", "34" * 32)
            record_metric(metrics.exact_match([[r] for r in REFS], HYPS))

        def test_plain(record_metric, llaso_seed):
            record_metric(metrics.wer(REFS, HYPS, seed=llaso_seed), name="explicit")
            record_metric(metrics.wer(REFS, HYPS))
        """
    )
    result = pytester.runpytest("--llaso-out=run.json", "--llaso-seed=4242",
                                "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    rec = json.loads((pytester.path / "run.json").read_text())
    by = {t["nodeid"].split("::")[1]: {r["name"]: r for r in t["results"]} for t in rec["tests"]}
    param = by["test_param[case0]"]["wer"]["signature"]["fields"]
    assert param["seed"] == 4242 and param["datasets"] == "qa-cases@" + "12" * 8
    body = by["test_body"]["exact_match"]["signature"]["fields"]
    assert body["seed"] == 4242 and body["datasets"] == "dev@" + "34" * 8
    plain = by["test_plain"]
    # the default equals what the suites used to pass by hand, and no datasets field
    assert plain["wer"]["ci"] == plain["explicit"]["ci"]
    assert plain["wer"]["signature"] == plain["explicit"]["signature"]
    assert "datasets" not in plain["wer"]["signature"]["fields"]
    assert plain["wer"]["ci"] == pytest.approx(list(metrics.wer(REFS, HYPS, seed=4242).ci))
