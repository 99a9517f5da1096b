"""LLM-as-a-judge: rubric scores, pass/fail, and pairwise comparison with position swapping.

Every verdict is parsed from structured JSON. A reply that is not JSON, lacks a field, or puts
a score outside the template's declared scale is an explicit *error state* for that item: it is
counted, listed with its reason, and excluded from the score (never turned into 0, never
silently dropped). Judgements run at temperature 0 with a seed by default; with ``k > 1`` each
item is judged ``k`` times (seeds ``seed + r``), agreement is reported, and the mean (rubric) or
the majority decides. Pairwise judgements are always made in both orders; an item whose two
orders disagree is reported as ``inconsistent`` (scored as a tie) and counted.

This module computes; it does not print and does not import pytest.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from llaso_pytest.context import AUTO_SEED
from llaso_pytest.errors import LlasoError
from llaso_pytest.llm.client import CallOutcome, ChatRequest, LLMClient, public_params
from llaso_pytest.llm.prompts import PromptTemplate, load_prompt

__all__ = [
    "ERROR_KINDS",
    "ItemVerdict",
    "Judge",
    "JudgeResult",
    "JudgeSample",
    "VerdictError",
    "parse_verdict",
]

JudgeKind = Literal["rubric", "binary", "pairwise"]
ResponseFormat = Literal["json_schema", "json_object", "none"]
ERROR_KINDS = ("api_error", "unparsable", "missing_field", "out_of_scale", "no_majority",
               "budget_exceeded")
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(.*?)\n?```$", re.DOTALL)


class VerdictError(LlasoError, ValueError):
    """A judge reply that cannot be used; ``kind`` is one of :data:`ERROR_KINDS`."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _snippet(text: str, n: int = 80) -> str:
    t = text.strip().replace("\n", "\\n")
    return t if len(t) <= n else t[:n] + "..."


def _score(v: Any, scale: tuple[int, int] | None, snippet: str) -> int:
    if scale is None:
        raise ValueError("a rubric verdict needs a scale")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise VerdictError("missing_field", f"reply lacks a numeric 'score': {snippet!r}")
    if isinstance(v, float) and not (math.isfinite(v) and v.is_integer()):
        raise VerdictError(
            "out_of_scale", f"score {v!r} is not an integer on the scale {scale[0]}..{scale[1]}"
        )
    if not scale[0] <= v <= scale[1]:
        raise VerdictError(
            "out_of_scale", f"score {v!r} is outside the declared scale {scale[0]}..{scale[1]}"
        )
    return int(v)


def _choice(field_name: str, allowed: Mapping[str, str]) -> Callable[[Any, Any, str], str]:
    """A parser of a string field whose (case-insensitive) value must be one of ``allowed``."""

    def parse(v: Any, _scale: Any, snippet: str) -> str:
        if not isinstance(v, str):
            raise VerdictError("missing_field", f"reply lacks a string {field_name!r}: {snippet!r}")
        norm = allowed.get(v.strip().lower())
        if norm is None:
            names = ", ".join(repr(a) for a in dict.fromkeys(allowed.values()))
            raise VerdictError("out_of_scale", f"{field_name} {v!r} is not one of {names}")
        return norm

    return parse


@dataclass(frozen=True)
class _Kind:
    """What differs between the judge kinds; everything else is one code path."""

    field: str  # the JSON field holding the verdict
    parse: Callable[[Any, tuple[int, int] | None, str], Any]  # (raw value, scale, snippet) -> value
    enum: Callable[[tuple[int, int] | None], list[Any]]  # the values the schema allows
    orders: tuple[str | None, ...]  # pairwise: both position orders
    aggregates: tuple[str, ...]  # the first is the default


KINDS: Mapping[str, _Kind] = {
    "rubric": _Kind("score", _score, lambda s: list(range((s or (1, 5))[0], (s or (1, 5))[1] + 1)),
                    (None,), ("mean", "majority")),
    "binary": _Kind("verdict", _choice("verdict", {"pass": "pass", "fail": "fail"}),
                    lambda s: ["pass", "fail"], (None,), ("majority",)),
    "pairwise": _Kind("winner", _choice("winner", {"a": "A", "b": "B", "tie": "tie"}),
                      lambda s: ["A", "B", "tie"], ("AB", "BA"), ("majority",)),
}


def parse_verdict(
    content: str, *, kind: JudgeKind, scale: tuple[int, int] | None = None
) -> tuple[Any, str]:
    """Parse one judge reply into ``(value, reason)``.

    rubric -> integer score within ``scale``; binary -> ``"pass"``/``"fail"``; pairwise ->
    ``"A"``/``"B"``/``"tie"``. A reply wrapped in one Markdown code fence is accepted; anything
    else that is not a JSON object raises :class:`VerdictError`.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown judge kind {kind!r}")
    text = content.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1).strip()
    try:
        data = json.loads(text)
    except ValueError:
        raise VerdictError("unparsable", f"reply is not JSON: {_snippet(content)!r}") from None
    if not isinstance(data, dict):
        raise VerdictError("unparsable", f"reply is JSON but not an object: {_snippet(content)!r}")
    reason = data.get("reason")
    if not isinstance(reason, str):
        raise VerdictError("missing_field", f"reply lacks a string 'reason': {_snippet(content)!r}")
    return spec.parse(data.get(spec.field), scale, _snippet(content)), reason


def response_format_for(
    kind: JudgeKind, scale: tuple[int, int] | None, mode: ResponseFormat
) -> dict[str, Any] | None:
    """The ``response_format`` request parameter for a judge kind (structured outputs)."""
    if mode == "none":
        return None
    if mode == "json_object":
        return {"type": "json_object"}
    spec = KINDS[kind]
    props: dict[str, Any] = {"reason": {"type": "string"}}
    props[spec.field] = {
        "type": "integer" if kind == "rubric" else "string",
        "enum": spec.enum(scale),
    }
    schema = {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }
    return {"type": "json_schema",
            "json_schema": {"name": f"llaso_{kind}_verdict", "schema": schema, "strict": True}}


@dataclass(frozen=True)
class JudgeSample:
    """One judge call: its raw reply and what was parsed from it (or why not)."""

    repeat: int
    order: str | None  # pairwise: "AB" (original) or "BA" (swapped); else None
    content: str | None
    value: Any = None  # parsed: int score, "pass"/"fail", "A"/"B"/"tie"
    reason: str | None = None
    cached: bool = False
    error_kind: str | None = None
    error: str | None = None
    #: USD of this reply from its token counts and the endpoint's prices (``None``: unknown,
    #: or not called); a cached reply is priced as when it was made
    cost_usd: float | None = None
    latency_s: float | None = None  # seconds of the API call (``None``: cached or not timed)

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "repeat": self.repeat,
            "order": self.order,
            "value": self.value,
            "reason": self.reason,
            "cached": self.cached,
            "error_kind": self.error_kind,
            "error": self.error,
            "content": self.content,
        }


@dataclass(frozen=True)
class ItemVerdict:
    """The judgement of one item. ``value`` is ``None`` exactly when ``error_kind`` is set."""

    id: str
    value: float | None
    label: str | None
    reason: str | None
    samples: tuple[JudgeSample, ...]
    agreement: float | None = None  # share of the k judgements that agree with the decision
    error_kind: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    @property
    def cost_usd(self) -> float | None:
        """What judging this item cost (every call priced), ``None`` when any is unknown."""
        costs = [s.cost_usd for s in self.samples]
        return None if not costs or None in costs else sum(c or 0.0 for c in costs)

    @property
    def latency_s(self) -> float | None:
        """Seconds of this item's API calls, ``None`` unless every one was timed."""
        times = [s.latency_s for s in self.samples]
        return None if not times or None in times else sum(t or 0.0 for t in times)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "value": self.value, "label": self.label, "reason": self.reason,
                "agreement": self.agreement, "error_kind": self.error_kind, "error": self.error,
                "samples": [s.to_dict() for s in self.samples]}


@dataclass(frozen=True)
class JudgeResult:
    """All verdicts of one judged set plus everything needed to reproduce them."""

    name: str
    kind: JudgeKind
    verdicts: tuple[ItemVerdict, ...]
    prompt: Mapping[str, Any]
    judge: Mapping[str, Any]  # endpoint (public form, no key) and decoding parameters
    k: int
    aggregate: str
    labels: tuple[str, str] | None = None  # pairwise: names of the two systems
    usage: Mapping[str, Any] = field(default_factory=dict)
    #: The template variables each item was judged with (for the texts reports show).
    inputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    #: the judge endpoint's (input, output) USD per million tokens, ``None`` when not set
    prices: tuple[float, float] | None = None

    # -- counts
    @property
    def ok(self) -> tuple[ItemVerdict, ...]:
        return tuple(v for v in self.verdicts if v.ok)

    @property
    def errors(self) -> tuple[ItemVerdict, ...]:
        return tuple(v for v in self.verdicts if not v.ok)

    @property
    def n(self) -> int:
        return len(self.ok)

    @property
    def n_items(self) -> int:
        return len(self.verdicts)

    @property
    def n_errors(self) -> int:
        return len(self.errors)

    @property
    def error_rate(self) -> float:
        return self.n_errors / self.n_items if self.verdicts else 0.0

    @property
    def errors_by_kind(self) -> dict[str, int]:
        return dict(Counter(str(v.error_kind) for v in self.errors))

    @property
    def value(self) -> float:
        """Mean item value over the items without errors (NaN when none)."""
        vals = [float(v.value) for v in self.ok if v.value is not None]
        return sum(vals) / len(vals) if vals else math.nan

    def by_id(self) -> dict[str, ItemVerdict]:
        return {v.id: v for v in self.verdicts}

    @property
    def higher_is_better(self) -> bool:
        return True

    def agreement_summary(self) -> dict[str, Any] | None:
        """With k > 1: mean share agreeing with the decision and the share of unanimous items."""
        if self.k <= 1:
            return None
        ags = [v.agreement for v in self.ok if v.agreement is not None]
        if not ags:
            return {"k": self.k, "mean_agreement": None, "unanimous_rate": None, "n": 0}
        return {"k": self.k, "mean_agreement": sum(ags) / len(ags),
                "unanimous_rate": sum(1 for a in ags if a == 1.0) / len(ags), "n": len(ags)}

    def pairwise_summary(self) -> dict[str, Any] | None:
        """Wins, ties, order disagreements (position swaps that changed the verdict), position
        bias."""
        if self.kind != "pairwise":
            return None
        labels = self.labels or ("a", "b")
        counts = Counter(v.label for v in self.ok)
        pairs = 0
        disagree = 0
        first_wins = 0
        decisive = 0
        for v in self.verdicts:
            by_rep: dict[int, dict[str, Any]] = {}
            for s in v.samples:
                if s.ok:
                    by_rep.setdefault(s.repeat, {})[str(s.order)] = s.value
                    if s.value in ("A", "B"):
                        decisive += 1
                        first_wins += s.value == "A"
            for rep in by_rep.values():
                if "AB" in rep and "BA" in rep:
                    pairs += 1
                    disagree += _combine_orders(rep["AB"], rep["BA"], labels) == "inconsistent"
        return {
            "systems": list(labels),
            f"{labels[0]}_wins": counts.get(labels[0], 0),
            f"{labels[1]}_wins": counts.get(labels[1], 0),
            "ties": counts.get("tie", 0),
            "inconsistent": counts.get("inconsistent", 0),
            "order_pairs": pairs,
            "order_disagreements": disagree,
            "order_disagreement_rate": disagree / pairs if pairs else None,
            "first_position_win_rate": first_wins / decisive if decisive else None,
        }

    def summary(self) -> dict[str, Any]:
        """JSON-able details for the run record (``MetricResult.extra['judge']``)."""
        return {
            "kind": self.kind,
            "prompt": dict(self.prompt),
            "judge": dict(self.judge),
            "k": self.k,
            "aggregate": self.aggregate,
            "n_items": self.n_items,
            "n_ok": self.n,
            "n_errors": self.n_errors,
            "errors_by_kind": self.errors_by_kind,
            "error_items": [
                {"id": v.id, "kind": v.error_kind, "error": v.error} for v in self.errors
            ],
            "agreement": self.agreement_summary(),
            "pairwise": self.pairwise_summary(),
            "usage": dict(self.usage),
            # each item's reason is in the result's item texts (bounded by --llaso-item-text)
            "verdicts": [{"id": v.id, "label": v.label} for v in self.ok],
        }

    def signature_fields(self) -> dict[str, Any]:
        j = self.judge
        return {
            "judge": self.kind,
            "prompt": self.prompt.get("name"),
            "prompt_sha256": str(self.prompt.get("sha256", ""))[:12],
            "judge_model": j.get("model"),
            "judge_url": j.get("base_url"),
            "temperature": j.get("temperature"),
            "max_tokens": j.get("max_tokens"),
            "judge_seed": j.get("seed"),
            "k": self.k,
            "agg": self.aggregate,
            "format": j.get("response_format"),
            "judge_served_model": j.get("served_model"),
            "judge_fingerprint": j.get("system_fingerprint"),
            **(
                {"extra_params": json.dumps(j["extra_params"], sort_keys=True)}
                if j.get("extra_params")
                else {}
            ),
        }

    def to_metric_result(self, *, confidence: float = 0.95, n_boot: int = 1000,
                         seed: int = AUTO_SEED,
                         signature_extra: Mapping[str, Any] | None = None) -> Any:
        """A ``llaso_pytest.metrics.base.MetricResult`` over the items without errors.

        Errors are not hidden: ``extra['judge']`` lists every error item and the counts.
        ``signature_extra`` names what was judged (data and predictions hashes, the system),
        as for every other metric: without it, judged scores of different data or systems
        would compare as like for like.
        """
        from llaso_pytest.llm._metric import judge_metric_result

        return judge_metric_result(self, confidence=confidence, n_boot=n_boot, seed=seed,
                                   signature_extra=signature_extra)

    def cost_metrics(self, *, confidence: float = 0.95, n_boot: int = 1000, seed: int = 0,
                     signature_extra: Mapping[str, Any] | None = None) -> list[Any]:
        """Per-item cost (``<name>/cost_usd``) and latency (``<name>/latency_s``) of the
        judge calls as metric results, when the endpoint's prices are configured (else
        ``[]``). Each is over the items whose every call is priced (or timed); items not
        called (``budget_exceeded``) are not among them."""
        from llaso_pytest.llm._metric import judge_cost_results

        return judge_cost_results(self, confidence=confidence, n_boot=n_boot, seed=seed,
                                  signature_extra=signature_extra)


def _prices(endpoint: Any) -> tuple[float, float] | None:
    if endpoint.price_in is None or endpoint.price_out is None:
        return None
    return float(endpoint.price_in), float(endpoint.price_out)


def _combine_orders(ab: Any, ba: Any, labels: tuple[str, str]) -> str:
    """Map the two position orders to a verdict about the systems (labels[0] was shown as A
    first)."""
    first = {"A": labels[0], "B": labels[1], "tie": "tie"}[ab]
    second = {"A": labels[1], "B": labels[0], "tie": "tie"}[ba]
    return first if first == second else "inconsistent"


ItemsArg = Mapping[str, Mapping[str, str]] | Iterable[tuple[str, Mapping[str, str]]]


def _items(items: ItemsArg) -> list[tuple[str, Mapping[str, str]]]:
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    seen: set[str] = set()
    for i, pair in enumerate(pairs):
        if not (
            isinstance(pair, tuple)
            and len(pair) == 2
            and isinstance(pair[0], str)
            and isinstance(pair[1], Mapping)
        ):
            raise TypeError(
                f"judge item {i} must be (id: str, variables: mapping), got {pair!r:.80}"
            )
        if pair[0] in seen:
            raise ValueError(f"duplicate judge item id {pair[0]!r}")
        seen.add(pair[0])
    return pairs


class Judge:
    """Grades items with a judge model through an :class:`LLMClient`.

    ``seed`` is sent with every call (repeat ``r`` uses ``seed + r``); ``temperature`` defaults
    to 0. ``response_format`` selects structured outputs (``json_schema``), JSON mode
    (``json_object``) or none (the template alone asks for JSON) for endpoints lacking them.
    ``max_tokens=None`` omits the limit; ``extra_params`` are added to every request (and to
    the signature), e.g. ``{"max_completion_tokens": 512}`` for models that reject max_tokens.
    """

    def __init__(
        self,
        client: LLMClient,
        *,
        seed: int | None = 0,
        temperature: float = 0.0,
        response_format: ResponseFormat = "json_schema",
        max_tokens: int | None = 512,
        prompt_dir: str | None = None,
        default_k: int = 1,
        extra_params: Mapping[str, Any] | None = None,
    ) -> None:
        if response_format not in ("json_schema", "json_object", "none"):
            raise ValueError(
                f"response_format must be json_schema, json_object or none, got {response_format!r}"
            )
        self.client = client
        self.seed = seed
        self.temperature = temperature
        self.response_format = response_format
        self.max_tokens = max_tokens
        self.prompt_dir = prompt_dir
        self.extra_params = dict(extra_params or {})
        _check_k(default_k, "mean", ("mean",))
        self.default_k = default_k

    def _template(self, prompt: PromptTemplate | str, kind: JudgeKind) -> PromptTemplate:
        t = (
            prompt
            if isinstance(prompt, PromptTemplate)
            else load_prompt(prompt, prompt_dir=self.prompt_dir)
        )
        if t.kind != kind:
            raise ValueError(f"prompt {t.name!r} ({t.path}) is a {t.kind!r} template, not {kind!r}")
        if kind == "pairwise" and not {"response_a", "response_b"} <= set(t.variables):
            raise ValueError(
                f"pairwise prompt {t.name!r} must use variables response_a and response_b"
            )
        return t

    def _params(self, kind: JudgeKind, t: PromptTemplate, repeat: int) -> dict[str, Any]:
        params: dict[str, Any] = {"temperature": self.temperature}
        if self.seed is not None:
            params["seed"] = self.seed + repeat
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        rf = response_format_for(kind, t.scale, self.response_format)
        if rf is not None:
            params["response_format"] = rf
        params.update(self.extra_params)  # e.g. {"max_completion_tokens": 512} for reasoning models
        return params

    def _describe(self, outcomes: Sequence[CallOutcome]) -> dict[str, Any]:
        ep = self.client.endpoint
        out: dict[str, Any] = {
            "base_url": ep.public_url,
            "model": ep.model,
            "temperature": self.temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "response_format": self.response_format,
        }
        # what the server says it served: a snapshot swapped behind an alias changes the verdicts
        served = sorted({o.response_model for o in outcomes if o.response_model})
        prints = sorted({o.system_fingerprint for o in outcomes if o.system_fingerprint})
        out["served_model"] = ",".join(served) or None
        out["system_fingerprint"] = ",".join(prints) or None
        if self.extra_params:
            # header and query values (keys, cookies) never: names only (see public_params)
            out["extra_params"] = public_params(self.extra_params)
        return out

    def _run(
        self,
        kind: JudgeKind,
        t: PromptTemplate,
        items: list[tuple[str, Mapping[str, str]]],
        k: int,
    ) -> tuple[dict[str, list[JudgeSample]], list[CallOutcome]]:
        requests: list[ChatRequest] = []
        index: list[tuple[str, int, str | None]] = []

        def accept(content: str) -> str | None:  # an unusable verdict is returned, never cached
            try:
                parse_verdict(content, kind=kind, scale=t.scale)
            except VerdictError as exc:
                return exc.message
            return None

        for item_id, variables in items:
            for r in range(k):
                for order in KINDS[kind].orders:
                    v = dict(variables)
                    if order == "BA":
                        v["response_a"], v["response_b"] = (
                            variables["response_b"],
                            variables["response_a"],
                        )
                    messages = tuple(t.render(v))
                    ref = t.ref if r == 0 else f"{t.ref}#repeat{r}"
                    requests.append(
                        ChatRequest(
                            id=f"{item_id}\x1f{r}\x1f{order}",
                            messages=messages,
                            params=self._params(kind, t, r),
                            prompt_ref=ref,
                            accept=accept,
                        )
                    )
                    index.append((item_id, r, order))
        outcomes: list[CallOutcome] = self.client.complete(requests)
        samples: dict[str, list[JudgeSample]] = {item_id: [] for item_id, _ in items}
        from llaso_pytest.llm.budget import call_cost

        ep = self.client.endpoint
        for (item_id, r, order), out in zip(index, outcomes, strict=True):
            sample = self._parse(kind, t, r, order, out)
            samples[item_id].append(dataclasses.replace(
                sample, cost_usd=call_cost(ep, out.prompt_tokens, out.completion_tokens),
                latency_s=out.latency_s))  # None for a cached reply
        return samples, outcomes

    @staticmethod
    def _parse(
        kind: JudgeKind, t: PromptTemplate, r: int, order: str | None, out: CallOutcome
    ) -> JudgeSample:
        if not out.ok or out.content is None:
            msg = out.error or "no content"
            # not called because the run's budget is spent: its own state (llm/budget.py)
            state = "budget_exceeded" if out.error_type == "budget_exceeded" else "api_error"
            return JudgeSample(r, order, None, cached=out.cached, error_kind=state, error=msg)
        try:
            value, reason = parse_verdict(out.content, kind=kind, scale=t.scale)
        except VerdictError as exc:
            extra = (
                f" (finish_reason={out.finish_reason})"
                if out.finish_reason not in (None, "stop")
                else ""
            )
            return JudgeSample(r, order, out.content, cached=out.cached, error_kind=exc.kind,
                               error=exc.message + extra)
        if out.finish_reason == "length":  # a verdict cut by the token limit is not the verdict
            return JudgeSample(
                r,
                order,
                out.content,
                cached=out.cached,
                error_kind="unparsable",
                error="reply cut at the token limit (finish_reason=length); raise max_tokens",
            )
        return JudgeSample(r, order, out.content, value=value, reason=reason, cached=out.cached)

    def _result(
        self,
        name: str | None,
        kind: JudgeKind,
        t: PromptTemplate,
        verdicts: list[ItemVerdict],
        k: int,
        aggregate: str,
        before: Mapping[str, Any],
        outcomes: Sequence[CallOutcome],
        labels: tuple[str, str] | None = None,
        inputs: Mapping[str, Mapping[str, str]] | None = None,
    ) -> JudgeResult:
        after = self.client.stats.snapshot()
        usage = {
            key: after[key] - before[key]
            for key in (
                "api_calls",
                "retries",
                "cache_hits",
                "cache_misses",
                "prompt_tokens",
                "completion_tokens",
                "calls_without_usage",
            )
        }
        if after["cost_usd"] is not None:
            usage["cost_usd"] = after["cost_usd"] - (before["cost_usd"] or 0.0)
        else:
            usage["cost_usd"] = None
        result = JudgeResult(
            name=name or t.name,
            kind=kind,
            verdicts=tuple(verdicts),
            prompt=t.provenance(),
            judge=self._describe(outcomes),
            k=k,
            aggregate=aggregate,
            labels=labels,
            usage=usage,
            inputs=dict(inputs or {}),
            prices=_prices(self.client.endpoint),
        )
        if result.n_errors:
            import warnings

            from llaso_pytest.errors import LlasoWarning

            kinds = ", ".join(f"{k}={n}" for k, n in sorted(result.errors_by_kind.items()))
            ids = ", ".join(v.id for v in result.errors[:5]) + (
                " ..." if result.n_errors > 5 else ""
            )
            warnings.warn(
                LlasoWarning(
                    f"judged set {result.name!r}: {result.n_errors} of {result.n_items} items "
                    "are in an error state "
                    f"({kinds}) and are excluded from the score: {ids}"
                ),
                stacklevel=4,
            )
        return result

    def _judge(
        self,
        kind: JudgeKind,
        items: ItemsArg,
        *,
        prompt: PromptTemplate | str,
        k: int | None,
        aggregate: str | None,
        name: str | None,
        labels: tuple[str, str] | None = None,
    ) -> JudgeResult:
        """The one path of every kind: render, call (cached), parse, decide per item."""
        spec = KINDS[kind]
        t = self._template(prompt, kind)
        k = self.default_k if k is None else k
        aggregate = aggregate or spec.aggregates[0]
        _check_k(k, aggregate, spec.aggregates)
        pairs = _items(items)
        before = self.client.stats.snapshot()
        samples, outcomes = self._run(kind, t, pairs, k)
        verdicts = [
            _decide(kind, item_id, samples[item_id], k, aggregate, labels) for item_id, _ in pairs
        ]
        return self._result(name, kind, t, verdicts, k, aggregate, before, outcomes, labels=labels,
                            inputs=dict(pairs))

    # ------------------------------------------------------------------ public API
    def rubric(
        self,
        items: ItemsArg,
        *,
        prompt: PromptTemplate | str,
        k: int | None = None,
        aggregate: Literal["mean", "majority"] = "mean",
        name: str | None = None,
    ) -> JudgeResult:
        """Score each item on the template's declared scale (mean of k by default)."""
        return self._judge("rubric", items, prompt=prompt, k=k, aggregate=aggregate, name=name)

    def binary(self, items: ItemsArg, *, prompt: PromptTemplate | str, k: int | None = None,
               name: str | None = None) -> JudgeResult:
        """Pass/fail per item (majority of k; a tie is a ``no_majority`` error). Value = pass
        rate."""
        return self._judge("binary", items, prompt=prompt, k=k, aggregate="majority", name=name)

    def pairwise(self, items: ItemsArg, *, prompt: PromptTemplate | str, k: int | None = None,
                 labels: tuple[str, str] = ("a", "b"), name: str | None = None) -> JudgeResult:
        """Compare ``response_a`` (system ``labels[0]``) with ``response_b`` in both orders.

        Item value: 1 if ``labels[0]`` wins, 0 if ``labels[1]`` wins, 0.5 for a tie or when the
        two orders disagree (``inconsistent``, counted separately). Value = win rate of labels[0].
        """
        if (
            len(labels) != 2
            or labels[0] == labels[1]
            or "tie" in labels
            or "inconsistent" in labels
        ):
            raise ValueError(
                f"labels must be two distinct system names (not 'tie'), got {labels!r}"
            )
        return self._judge("pairwise", items, prompt=prompt, k=k, aggregate="majority", name=name,
                           labels=labels)


def _decide(kind: JudgeKind, item_id: str, ss: Sequence[JudgeSample], k: int, aggregate: str,
            labels: tuple[str, str] | None) -> ItemVerdict:
    """One item's verdict from its k (x orders) samples."""
    bad = _first_error(item_id, ss)
    if bad is not None:
        return bad
    if kind == "pairwise":
        names = labels or ("a", "b")
        per_rep: list[Any] = []
        for r in range(k):
            ab = next(s.value for s in ss if s.repeat == r and s.order == "AB")
            ba = next(s.value for s in ss if s.repeat == r and s.order == "BA")
            per_rep.append(_combine_orders(ab, ba, names))
        reason: str | None = " | ".join(f"{s.order}: {s.reason}" for s in ss if s.repeat == 0)
    else:
        per_rep = [s.value for s in ss]
        reason = None
    modal, count = _mode(per_rep)
    if aggregate == "mean":
        value: float = sum(per_rep) / len(per_rep)
        label = f"{value:g}"
    else:
        if modal is None:
            return _no_majority(item_id, ss, per_rep)
        label = str(modal)
        if kind == "rubric":
            value = float(modal)
        elif kind == "binary":
            value = 1.0 if modal == "pass" else 0.0
        else:
            names = labels or ("a", "b")
            value = 1.0 if modal == names[0] else 0.0 if modal == names[1] else 0.5
    if reason is None:
        reason = next((s.reason for s in ss if s.value == modal), ss[0].reason)
    return ItemVerdict(item_id, value, label, reason, tuple(ss), agreement=count / len(per_rep))


def _check_k(k: int, aggregate: str, allowed: Sequence[str]) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k (repeated judgements) must be an integer >= 1, got {k!r}")
    if aggregate not in allowed:
        raise ValueError(f"aggregate must be one of {tuple(allowed)}, got {aggregate!r}")


def _mode(values: Sequence[Any]) -> tuple[Any, int]:
    """(most common value, its count); value ``None`` when the top count is shared."""
    counts = Counter(values).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None, counts[0][1]
    return counts[0][0], counts[0][1]


def _first_error(item_id: str, ss: Sequence[JudgeSample]) -> ItemVerdict | None:
    bad = [s for s in ss if not s.ok]
    if not bad:
        return None
    detail = "; ".join(
        f"{'repeat ' + str(s.repeat) if len(ss) > 1 else 'call'}"
        f"{' ' + s.order if s.order else ''}: {s.error}"
        for s in bad
    )
    msg = f"item {item_id!r}: {len(bad)} of {len(ss)} judge call(s) failed: {detail}"
    return ItemVerdict(
        item_id, None, None, None, tuple(ss), error_kind=bad[0].error_kind, error=msg
    )


def _no_majority(item_id: str, ss: Sequence[JudgeSample], values: Sequence[Any]) -> ItemVerdict:
    return ItemVerdict(
        item_id,
        None,
        None,
        None,
        tuple(ss),
        error_kind="no_majority",
        error=f"item {item_id!r}: no majority among {len(values)} judgements {list(values)}; "
        "use an odd k",
    )
