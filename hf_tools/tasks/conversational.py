"""conversational: one chat turn with an instruct model (OpenAI-compatible chat completions).

The tool is for an agent that wants a second opinion or a sub-answer from another model; the
chat model *driving* an agent is :class:`hf_tools.HFChatModel`. It speaks OpenAI chat
completions (``chat=True``): :func:`hf_tools.routing.hf_inference_url` says where that goes
(the router's ``/v1/chat/completions`` by default, ``{endpoint}/v1/chat/completions`` for an
endpoint URL), and answers are read with :mod:`hf_tools.chat_wire`: no LangChain here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hf_tools.chat_wire import WireMessage, completion_text, read_completion, usage_counts
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
    wire, choice = read_completion(data)
    message = choice.message or WireMessage()
    return ConversationalOutput(
        generated_text=completion_text(message.content),
        finish_reason=choice.finish_reason,
        model=wire.model,
        usage=usage_counts(wire),
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
    # Mappings recorded for Llama-3.1-8B-Instruct (live: sambanova, novita, nebius,
    # fireworks); cerebras, together, hyperbolic, cohere from their chat tapes.
    serving=(
        ("sambanova", "meta-llama/Llama-3.1-8B-Instruct"),
        ("novita", "meta-llama/Llama-3.1-8B-Instruct"),
        ("nebius", "meta-llama/Llama-3.1-8B-Instruct"),
        ("fireworks-ai", "meta-llama/Llama-3.1-8B-Instruct"),
        ("cerebras", "meta-llama/Llama-3.1-8B-Instruct"),
        ("together", "meta-llama/Llama-3.3-70B-Instruct"),
        ("hyperbolic", "meta-llama/Llama-3.2-3B-Instruct"),
        ("cohere", "CohereForAI/c4ai-command-r7b-12-2024"),
    ),
    family="text",
    example={"message": "What is deep learning?"},
    hf_inference=HFInferenceWire(build, parse, chat=True),
)
