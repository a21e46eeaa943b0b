"""question-answering: extract the answer to a question from a given context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    Payload,
    TaskSpec,
    ToolInput,
    fmt_score,
    parse_list_as,
    require_fields,
    wire_parameters,
)
from hf_tools.tasks._parameters import QuestionAnsweringParameters, QuestionAnsweringPythonOnly


class QuestionAnsweringInput(ToolInput, QuestionAnsweringPythonOnly):
    """Arguments of the question_answering tool."""

    question: str = Field(min_length=1, description="The question.")
    context: str = Field(min_length=1, description="Text that contains the answer.")
    top_k: int | None = Field(default=None, ge=1, le=20, description="How many answers.")


_TASK = "question-answering"
_SPAN = ("answer", "score", "start", "end")


class Answer(BaseModel):
    """An answer span of the context."""

    model_config = ConfigDict(extra="allow")

    answer: str
    score: FiniteFloat | None = None
    start: int | None = None
    end: int | None = None


class QuestionAnsweringOutput(BaseModel):
    """Answers, best first."""

    model_config = ConfigDict(extra="allow")

    answers: list[Answer]


def build(args: QuestionAnsweringInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": {"question", "context"}, "parameters": {...}}``."""
    params = wire_parameters(QuestionAnsweringParameters, args)
    inputs = {"question": args.question, "context": args.context}
    return Payload(json={"inputs": inputs, "parameters": params})


def parse(data: Any, args: QuestionAnsweringInput) -> QuestionAnsweringOutput:
    """One object (serverless) or a list of them (``top_k``, task spec)."""
    items = data if isinstance(data, list) else [data]
    for item in items:  # the task spec's required fields: a span of the context
        require_fields(item, _TASK, "an {answer, score, start, end}", _SPAN)
    answers = parse_list_as(Answer, items, "question-answering", "answer")
    answers.sort(key=lambda a: a.score or 0.0, reverse=True)
    return QuestionAnsweringOutput(answers=answers)


def render(out: QuestionAnsweringOutput) -> str:
    """``42 (score 0.0000, chars 0-2)`` per answer."""
    if not out.answers:
        return "no answer found"
    lines = []
    for a in out.answers:
        score = f"score {fmt_score(a.score)}" if a.score is not None else "no score"
        span = f", chars {a.start}-{a.end}" if a.start is not None else ""
        lines.append(f"{a.answer} ({score}{span})")
    return "\n".join(lines)


SPEC = TaskSpec(
    task="question-answering",
    description=(
        "Answer a question from a given context (extractive). "
        "Returns the answer span with its score."
    ),
    input_model=QuestionAnsweringInput,
    output_model=QuestionAnsweringOutput,
    render=render,
    default_model="deepset/roberta-base-squad2",
    serving=(("hf-inference", "deepset/roberta-base-squad2"),),
    family="text",
    example={"question": "What is the meaning of life?", "context": "42"},
    hf_inference=HFInferenceWire(build, parse),
)
