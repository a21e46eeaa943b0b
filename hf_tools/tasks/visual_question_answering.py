"""visual-question-answering: short answers to a question about an image."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

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
    VisualQuestionAnsweringParameters,
    VisualQuestionAnsweringPythonOnly,
)
from hf_tools.tasks.image_classification import IMAGE_FIELD

_TASK = "visual-question-answering"


class VisualQuestionAnsweringInput(ToolInput, VisualQuestionAnsweringPythonOnly):
    """Arguments of the visual_question_answering tool."""

    image: MediaRef = IMAGE_FIELD
    question: str = Field(min_length=1, description="Question about the image.")
    top_k: int | None = Field(default=None, ge=1, le=20, description="How many answers.")


class Answer(BaseModel):
    """One candidate answer with its score."""

    model_config = ConfigDict(extra="allow")

    answer: str = ""
    score: FiniteFloat


class VisualQuestionAnsweringOutput(BaseModel):
    """Answers, best first."""

    model_config = ConfigDict(extra="allow")

    answers: list[Answer]


def build(args: VisualQuestionAnsweringInput, media: Mapping[str, Media]) -> Payload:
    """Always JSON: ``{"inputs": {"image": b64, "question"}, "parameters"?: {"top_k"}}``."""
    body: dict[str, Any] = {"inputs": {"image": media["image"].b64(), "question": args.question}}
    if params := wire_parameters(VisualQuestionAnsweringParameters, args):
        body["parameters"] = params
    return Payload(json=body)


def parse(data: Any, args: VisualQuestionAnsweringInput) -> VisualQuestionAnsweringOutput:
    """``[{answer, score}]`` (one object or a nested list from older servers too)."""
    items = expect_objects(data, _TASK, "a list of answers")
    for item in items:  # an answer's text, and no span of a text context (extractive QA's)
        require_fields(item, _TASK, "an {answer, score}", ("answer", "score"), ("start", "end"))
    answers = parse_list_as(Answer, items, _TASK, "answer")
    return VisualQuestionAnsweringOutput(
        answers=sorted(answers, key=lambda a: a.score, reverse=True)
    )


def render(out: VisualQuestionAnsweringOutput) -> str:
    """``woman 0.9387, girl 0.3431``."""
    shown = ", ".join(f"{a.answer} {fmt_score(a.score)}" for a in out.answers[:10])
    return shown or "no answer returned"


SPEC = TaskSpec(
    task=_TASK,
    description="Answer a question about an image. Returns short answers with scores.",
    input_model=VisualQuestionAnsweringInput,
    output_model=VisualQuestionAnsweringOutput,
    render=render,
    default_model="dandelin/vilt-b32-finetuned-vqa",
    # No provider serves it since July 2025 (hf-inference dropped it, no other provider has
    # the task): offered only with a model or endpoint the user names.
    serving=(),
    family="vision",
    example={"image": "tests/fixtures/image.png", "question": "Who's in the picture?"},
    media_fields=("image",),
    hf_inference=HFInferenceWire(build, parse),
)
