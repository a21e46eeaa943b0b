"""image-text-to-text: ask a vision-language model about an image (chat completions).

The image goes in a user message as an OpenAI ``image_url`` part (a ``data:`` URI of the
resolved image: local files and URLs pass the same safety checks as every media input) after
the question's text part. Every provider with a chat route serves it for a VLM: the Hub maps
such models under ``conversational``, so routing and the adapters are chat's
(:func:`hf_tools.providers.openai.openai_adapters`), and the answer is read as chat's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from hf_tools.tasks import conversational
from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    MediaRef,
    Payload,
    TaskSpec,
    ToolInput,
)
from hf_tools.tasks.conversational import ConversationalOutput
from hf_tools.tasks.image_classification import IMAGE_FIELD

_TASK = "image-text-to-text"


class ImageTextToTextInput(ToolInput):
    """Arguments of the image_text_to_text tool."""

    image: MediaRef = IMAGE_FIELD
    question: str = Field(min_length=1, description="Question or instruction about the image.")
    # For Python callers; left out of the schema an LLM pays for.
    max_tokens: SkipJsonSchema[int | None] = Field(default=None, ge=1)


class ImageTextToTextOutput(ConversationalOutput):
    """The model's answer (as a chat reply: text, why it stopped, model, token usage)."""


def messages(question: str, image: Media) -> list[dict[str, Any]]:
    """One user message: the question's text part, then the image as an ``image_url`` part."""
    parts = [
        {"type": "text", "text": question},
        {"type": "image_url", "image_url": {"url": f"data:{image.mime};base64,{image.b64()}"}},
    ]
    return [{"role": "user", "content": parts}]


def build(args: ImageTextToTextInput, media: Mapping[str, Media]) -> Payload:
    """``{"messages": [...], "max_tokens"?}``; the chat wire puts the model first."""
    body: dict[str, Any] = {"messages": messages(args.question, media["image"])}
    if args.max_tokens is not None:
        body["max_tokens"] = args.max_tokens
    return Payload(json=body)


def parse(data: Any, args: ImageTextToTextInput) -> ImageTextToTextOutput:
    """A chat completion -> the answer."""
    return ImageTextToTextOutput.model_validate(conversational.parse(data, args).model_dump())


SPEC = TaskSpec(
    task=_TASK,
    description="Ask a vision-language model about an image (describe, read, compare)."
    " Returns its answer.",
    input_model=ImageTextToTextInput,
    output_model=ImageTextToTextOutput,
    render=conversational.render,
    default_model="Qwen/Qwen2.5-VL-7B-Instruct",
    # Any provider with a chat route serves a VLM; none is recorded yet: offered with a model.
    serving=(),
    family="vision",
    example={"image": "tests/fixtures/image.png", "question": "What is in this image?"},
    media_fields=("image",),
    hf_inference=HFInferenceWire(build, parse, chat=True),
)
