"""conversational: one chat turn with an instruct model (OpenAI-compatible chat completions).

The tool is for an agent that wants a second opinion or a sub-answer from another model; the
chat model *driving* an agent is :class:`hf_tools.HFChatModel`. Where it goes:

* a model id with the default (hf-inference) base -> the router's auto route
  ``https://router.huggingface.co/v1/chat/completions`` (hf-inference itself no longer serves
  chat; the router picks a provider), ``"model": <id>`` in the body;
* another base URL (e.g. ``https://router.huggingface.co/together``) ->
  ``{base}/v1/chat/completions``;
* an endpoint URL (as the model, or a custom-endpoint base) -> ``{url}/v1/chat/completions``
  with ``"model": "tgi"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hf_tools.tasks._base import HFInferenceWire, Media, Payload, TaskSpec, ToolInput


class Turn(BaseModel):
    """One prior turn of the conversation."""

    model_config = ConfigDict(extra="forbid")

    # No field descriptions: the names say it, and each is paid on every call.
    role: Literal["system", "user", "assistant"]
    content: str


class ConversationalInput(ToolInput):
    """Arguments of the conversational tool."""

    message: str = Field(min_length=1, description="Your message.")
    # Explicit turn objects: a bare object has no schema in OpenAI strict mode or Gemini's
    # subset (the schema inlines Turn, no $defs).
    history: list[Turn] | None = Field(default=None, description="Prior turns, oldest first.")


class ConversationalOutput(BaseModel):
    """The model's reply, with token usage and why it stopped when the server says."""

    model_config = ConfigDict(extra="allow")

    generated_text: str
    finish_reason: str | None = None
    model: str | None = None
    usage: dict[str, int] | None = None


def build(args: ConversationalInput, media: Mapping[str, Media]) -> Payload:
    """``{"messages": [*history, {"role": "user", "content": message}]}``; client adds model."""
    turns = [{"role": t.role, "content": t.content} for t in args.history or []]
    return Payload(json={"messages": [*turns, {"role": "user", "content": args.message}]})


def parse(data: Any, args: BaseModel) -> ConversationalOutput:
    """A chat completion (any provider's, TGI's ``content: null`` included) -> the reply."""
    from hf_tools.langchain.chat import parse_completion  # lazily: it loads langchain_core

    message = parse_completion(data).generations[0].message
    meta = message.response_metadata
    usage = getattr(message, "usage_metadata", None)
    return ConversationalOutput(
        generated_text=message.text,
        finish_reason=meta.get("finish_reason"),
        model=meta.get("model_name"),
        usage=dict(usage) if usage else None,
    )


def render(out: ConversationalOutput) -> str:
    """The reply, noting when it was cut by the length limit."""
    note = " [stopped: length limit reached]" if out.finish_reason == "length" else ""
    return (out.generated_text or "(empty reply)") + note


SPEC = TaskSpec(
    task="conversational",
    description="Ask an instruct LLM one message (plus optional prior turns); returns its reply.",
    input_model=ConversationalInput,
    output_model=ConversationalOutput,
    render=render,
    default_model="meta-llama/Llama-3.1-8B-Instruct",
    example={"message": "What is deep learning?"},
    hf_inference=HFInferenceWire(build, parse, chat=True),
)
