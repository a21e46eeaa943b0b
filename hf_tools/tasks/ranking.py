"""ranking: order documents by relevance to a query with a cross-encoder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

from hf_tools.errors import ResponseFormatError, excerpt
from hf_tools.tasks._base import (
    LABEL_FOREIGN,
    HFInferenceWire,
    Media,
    Payload,
    TaskSpec,
    ToolInput,
    fmt_score,
    require_fields,
    unwrap_single,
)


class RankingInput(ToolInput):
    """Arguments of the ranking tool."""

    query: str = Field(min_length=1, description="What to search for.")
    documents: list[str] = Field(min_length=1, max_length=100, description="Texts to rank.")
    top_k: int | None = Field(default=None, ge=1, description="Return only the best k.")


class RankedDocument(BaseModel):
    """A document, its position in the input and its relevance."""

    index: int
    score: FiniteFloat
    text: str


class RankingOutput(BaseModel):
    """Documents, most relevant first."""

    model_config = ConfigDict(extra="allow")

    ranked: list[RankedDocument]


def build(args: RankingInput, media: Mapping[str, Media]) -> Payload:
    """Cross-encoder pairs as the text-classification pipeline takes them.

    ``{"inputs": [{"text": query, "text_pair": doc}, ...]}``: the pipeline reads a list of
    ``[query, doc]`` lists as a batch of single texts and refuses it beyond one document.
    """
    pairs = [{"text": args.query, "text_pair": doc} for doc in args.documents]
    return Payload(json={"inputs": pairs})


# Names a two-class reranker gives its "relevant" class; LABEL_1 is the usual positive index.
_RELEVANT = ("label_1", "1", "relevant", "positive", "true", "yes", "entailment")


def _relevance(labels: list[Any]) -> float:
    """The relevance score of one pair's ``[{label, score}, ...]``, not its best label's.

    A confident "not relevant" must not rank first: take the relevant class's score, else the
    class sorting last by name (LABEL_1 after LABEL_0).
    """
    if len(labels) == 1:
        return float(labels[0]["score"])
    for d in labels:
        require_fields(d, "ranking", "a {label, score}", ("label", "score"), LABEL_FOREIGN)
    by_name = {str(d["label"]).lower(): float(d["score"]) for d in labels}
    for name in _RELEVANT:
        if name in by_name:
            return by_name[name]
    return by_name[max(by_name)]


def _scores(data: Any, n: int) -> list[float]:
    if isinstance(data, Mapping) and isinstance(data.get("scores"), list):
        data = data["scores"]  # Inference Endpoints sentence-ranking
    if isinstance(data, list) and data and isinstance(data[0], Mapping) and "index" in data[0]:
        by_index = {int(d["index"]): float(d["score"]) for d in data}
        return [by_index[i] for i in range(n)]
    if isinstance(data, list) and len(data) == 1 and n > 1 and isinstance(data[0], list):
        data = data[0]
    scores = []
    for item in data if isinstance(data, list) else []:
        item = unwrap_single(item)
        if isinstance(item, list) and item and isinstance(item[0], Mapping):
            scores.append(_relevance(item))  # [[{label, score}, ...]] per pair
            continue
        if isinstance(item, list) and len(item) == 1:  # [[f]]: one logit per pair
            item = item[0]
        if isinstance(item, Mapping):  # a pair's {label, score}, as text-classification's
            require_fields(item, "ranking", "a {label, score}", ("label", "score"), LABEL_FOREIGN)
        scores.append(float(item["score"] if isinstance(item, Mapping) else item))
    return scores


def parse(data: Any, args: RankingInput) -> RankingOutput:
    """``{"scores"}``, ``[{index, score}]``, ``[{label, score}]`` per pair, or ``[f]``."""
    try:
        scores = _scores(data, len(args.documents))
    except (LookupError, TypeError, ValueError, ArithmeticError):  # 10**400 -> float
        scores = []
    if len(scores) != len(args.documents):
        msg = f"expected {len(args.documents)} scores, got {excerpt(str(data), 80)}"
        raise ResponseFormatError(msg, task="ranking")
    ranked = sorted(
        (
            RankedDocument(index=i, score=s, text=d)
            for i, (d, s) in enumerate(zip(args.documents, scores, strict=True))
        ),
        key=lambda r: r.score,
        reverse=True,
    )
    return RankingOutput(ranked=ranked[: args.top_k] if args.top_k else ranked)


def render(out: RankingOutput) -> str:
    """``#2 0.9812  <first 200 chars>`` per line, best first."""
    return "\n".join(f"#{r.index} {fmt_score(r.score)}  {r.text[:200]}" for r in out.ranked)


SPEC = TaskSpec(
    task="ranking",
    description=(
        "Rerank documents by relevance to a query. "
        "Returns document indexes with scores, best first."
    ),
    input_model=RankingInput,
    output_model=RankingOutput,
    render=render,
    default_model="cross-encoder/ms-marco-MiniLM-L-6-v2",
    # No provider serves it since July 2025 (hf-inference dropped it, no other provider has
    # the task): offered only with a model or endpoint the user names.
    serving=(),
    family="text",
    example={
        "query": "How many people live in Berlin?",
        "documents": [
            "Berlin is well known for its museums.",
            "Berlin had a population of 3,520,031 registered inhabitants.",
        ],
    },
    hf_inference=HFInferenceWire(build, parse),
)
