"""document-question-answering: answer a question about a scanned document (invoice, form).

hf-inference carries it as ``{"inputs": {"image": base64, "question"}, "parameters": {...}}``
(the task spec; huggingface_hub sends the same). Extractive models (LayoutLM) answer
``[{answer, score, start, end}]``; generative ones (Donut) ``[{answer}]`` alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat
from pydantic.json_schema import SkipJsonSchema

from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    MediaRef,
    Payload,
    TaskSpec,
    ToolInput,
    expect_objects,
    fmt_score,
    parse_list_as,
    require_fields,
    wire_parameters,
)
from hf_tools.tasks._parameters import (
    DocumentQuestionAnsweringParameters,
    DocumentQuestionAnsweringPythonOnly,
)
from hf_tools.tasks.image_classification import IMAGE_FIELD

_TASK = "document-question-answering"


class DocumentQuestionAnsweringInput(ToolInput, DocumentQuestionAnsweringPythonOnly):
    """Arguments of the document_question_answering tool."""

    image: MediaRef = IMAGE_FIELD
    question: str = Field(min_length=1, description="Question about the document.")
    # The spec's knobs, for Python callers; left out of the schema an LLM pays for.
    top_k: SkipJsonSchema[int | None] = Field(default=None, ge=1)
    lang: SkipJsonSchema[str | None] = None
    max_answer_len: SkipJsonSchema[int | None] = Field(default=None, ge=1)
    handle_impossible_answer: SkipJsonSchema[bool | None] = None


class DocumentAnswer(BaseModel):
    """One answer; extractive models add its score and word span."""

    model_config = ConfigDict(extra="allow")

    answer: str
    score: FiniteFloat | None = None
    start: int | None = None
    end: int | None = None


class DocumentQuestionAnsweringOutput(BaseModel):
    """Answers, best first."""

    model_config = ConfigDict(extra="allow")

    answers: list[DocumentAnswer]


def build(args: DocumentQuestionAnsweringInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": {"question", "image": b64}, "parameters": {...}}``."""
    params = wire_parameters(DocumentQuestionAnsweringParameters, args)
    inputs = {"question": args.question, "image": media["image"].b64()}
    return Payload(json={"inputs": inputs, "parameters": params})


def parse(data: Any, args: DocumentQuestionAnsweringInput) -> DocumentQuestionAnsweringOutput:
    """``[{answer, score?, start?, end?}]``, one object, or a nested list of them."""
    items = expect_objects(data, _TASK, "a list of answers")
    for item in items:  # table question answering's answer has cells, not a document span
        require_fields(item, _TASK, "an {answer}", ("answer",), ("coordinates", "cells"))
    answers = parse_list_as(DocumentAnswer, items, _TASK, "answer")
    # Sorted by score where there is one; a generative model's single answer stays as it is.
    answers.sort(key=lambda a: -1.0 if a.score is None else a.score, reverse=True)
    return DocumentQuestionAnsweringOutput(answers=answers)


def render(out: DocumentQuestionAnsweringOutput) -> str:
    """``us-001 0.6035, us-002 0.1000`` (``$1,000`` alone when the model gives no score)."""
    shown = ", ".join(
        a.answer if a.score is None else f"{a.answer} {fmt_score(a.score)}"
        for a in out.answers[:10]
    )
    return shown or "no answer returned"


SPEC = TaskSpec(
    task=_TASK,
    description="Answer a question about a scanned document (invoice, form). Returns the answer.",
    input_model=DocumentQuestionAnsweringInput,
    output_model=DocumentQuestionAnsweringOutput,
    render=render,
    default_model="naver-clova-ix/donut-base-finetuned-docvqa",
    # No provider serves it since July 2025 (hf-inference dropped it, no other provider has
    # the task): offered only with a model or endpoint the user names.
    serving=(),
    family="vision",
    example={"image": "tests/fixtures/document.jpg", "question": "What is the purchase amount?"},
    media_fields=("image",),
    hf_inference=HFInferenceWire(build, parse),
)
