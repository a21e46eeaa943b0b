"""What a task is: a :class:`TaskSpec` of pure functions and pydantic models.

A task module defines ``<Task>Input`` (the flat arguments an LLM fills in),
``<Task>Parameters`` (the wire ``parameters``), ``<Task>Output`` (the normalized answer) and one
``SPEC``. The client and the tool factory do the rest; nothing here does I/O.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.json_schema import SkipJsonSchema

from hf_tools.config import Settings
from hf_tools.errors import ResponseFormatError
from hf_tools.schema import portable_schema

__all__ = [
    "CandidateLabels",
    "Label",
    "Media",
    "MediaRef",
    "OptionalText",
    "Payload",
    "SavesFiles",
    "TaskSpec",
    "Texts",
    "ToolInput",
    "binary_payload",
    "expect_list",
    "first_field",
    "fmt_score",
    "labels_from",
    "parse_as",
    "parse_list_as",
    "render_labels",
    "unwrap_single",
]

ModelT = TypeVar("ModelT", bound=BaseModel)
InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Media:
    """A resolved image or audio input: the bytes and their MIME type."""

    data: bytes
    mime: str

    def __repr__(self) -> str:
        return f"Media(mime={self.mime!r}, bytes={len(self.data)})"

    def b64(self) -> str:
        """The bytes as base64 text, as JSON bodies carry them."""
        return base64.b64encode(self.data).decode()


MediaRef = str | SkipJsonSchema[bytes]
"""An image/audio argument: text for an LLM (path, URL, data URI, base64); Python callers may
also pass bytes, which the schema an LLM sees does not mention."""


@dataclass(frozen=True, slots=True)
class Payload:
    """A request body: JSON, or raw bytes with their content type."""

    json: Any = None
    data: bytes | None = None
    content_type: str | None = None


@runtime_checkable
class SavesFiles(Protocol):
    """An output holding binary data that the tool may write to the output directory."""

    def save(self, directory: Path) -> list[Path]:
        """Write the binary parts to ``directory`` and return the paths written."""
        ...


@dataclass(frozen=True, kw_only=True)
class TaskSpec(Generic[InputT, OutputT]):
    """One Hugging Face task, described as data and pure functions.

    Attributes:
        task: the Hugging Face task id, e.g. ``"text-classification"``.
        description: what the LLM reads to choose the tool: when to use it, what comes back.
        input_model: ``<Task>Input``, the tool's argument schema.
        output_model: ``<Task>Output``, the normalized result (the tool artifact).
        build: arguments (+ resolved media) -> request body.
        parse: decoded response body (+ arguments) -> output; accepts every known shape.
        render: output -> short text for the LLM.
        default_model: model used when the toolkit names none.
        example: valid arguments, used by the docs and the contract tests.
        pipeline: ``/pipeline/{pipeline}`` route suffix (feature-extraction, similarity).
        media_fields: input fields holding an image/audio reference to resolve before ``build``.
        accept: ``Accept`` header to send.
        response: ``"json"`` or ``"bytes"`` (binary answers such as images).
        url: overrides URL building (e.g. chat completions routes).
        model_in_body: the body names the model first (``{"model": ..., **body}``), as the
            router's OpenAI-compatible routes need; an endpoint URL is named ``"tgi"``.
        needs_endpoint: the task only exists as a configured endpoint URL (``custom``); it has
            no ``default_model``.
        example_endpoint: an endpoint URL for ``example`` (docs and contract tests).
    """

    task: str
    description: str
    input_model: type[InputT]
    output_model: type[OutputT]
    build: Callable[[InputT, Mapping[str, Media]], Payload]
    parse: Callable[[Any, InputT], OutputT]
    render: Callable[[OutputT], str]
    default_model: str
    example: Mapping[str, Any]
    pipeline: str | None = None
    media_fields: tuple[str, ...] = ()
    accept: str | None = None
    response: Literal["json", "bytes"] = "json"
    url: Callable[[Settings, str], str] | None = None
    model_in_body: bool = False
    needs_endpoint: bool = False
    example_endpoint: str | None = None
    tags: tuple[str, ...] = field(default=())

    @property
    def tool_name(self) -> str:
        """The tool name: the task id in snake_case."""
        return self.task.replace("-", "_")


class ToolInput(BaseModel):
    """Base of every ``<Task>Input``: the argument schema an LLM sees, compact and portable."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The pydantic schema, inlined and trimmed (:func:`hf_tools.schema.portable_schema`)."""
        return portable_schema(super().model_json_schema(*args, **kwargs))


def _empty_as_none(value: Any) -> Any:
    # A strict-mode model must fill every argument; "" for an optional text means "not given".
    return None if value == "" else value


OptionalText = Annotated[str | None, BeforeValidator(_empty_as_none)]
"""An optional text argument: null and "" both mean absent."""

Texts = Annotated[
    SkipJsonSchema[str] | list[str],
    Field(min_length=1, description="Texts (a list, one or more)."),
]
"""Texts to embed: always a list for an LLM (no ``anyOf``, which Gemini's older subset and
some validators refuse); a Python caller's single string is still sent as one string."""


def _split_labels(value: Any) -> Any:
    # LLMs often send "cat, dog" where a list is asked for; the meaning is unambiguous.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CandidateLabels = Annotated[
    list[str],
    Field(min_length=1, description="Labels to choose from."),
    BeforeValidator(_split_labels),
]
"""Labels for zero-shot tasks: a list, or one comma-separated string."""


class Label(BaseModel):
    """A label with its score (classification tasks)."""

    model_config = ConfigDict(extra="allow")

    label: str = Field(description="Class label.")
    score: float = Field(description="Probability or score, 0-1 for most models.")


def fmt_score(score: float) -> str:
    """Scores as the LLM reads them: 4 decimals, no exponent noise."""
    return f"{score:.4f}"


def expect_list(data: Any, task: str, what: str = "a list") -> list[Any]:
    """Return ``data`` as a list or raise a ResponseFormatError naming the task."""
    if not isinstance(data, list):
        msg = f"expected {what} from the server, got {type(data).__name__}"
        raise ResponseFormatError(msg, task=task)
    return data


def unwrap_single(data: Any) -> Any:
    """Unwrap the one-element lists older servers put around a single result.

    ``[[{...}, {...}]]`` -> ``[{...}, {...}]`` and ``[{...}]`` stays; used where the shape of
    one input's answer is itself a list.
    """
    while isinstance(data, list) and len(data) == 1 and isinstance(data[0], list):
        data = data[0]
    return data


def first_field(data: Any, key: str, task: str) -> tuple[str, dict[str, Any]]:
    """``[{key: text, ...}]`` or ``{key: text, ...}`` -> (text, the whole object)."""
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, Mapping) and isinstance(data.get(key), str):
        return data[key], dict(data)
    msg = f"expected {{{key!r}: str}} from the server, got {str(data)[:80]!r}"
    raise ResponseFormatError(msg, task=task)


def parse_as(model: type[ModelT], data: Any, task: str, what: str) -> ModelT:
    """Validate one server object, turning a mismatch into a ResponseFormatError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        msg = f"unexpected {what} format: {str(exc).splitlines()[0]}"
        raise ResponseFormatError(msg, task=task) from None


def parse_list_as(model: type[ModelT], items: Sequence[Any], task: str, what: str) -> list[ModelT]:
    """:func:`parse_as` for each item of a list."""
    return [parse_as(model, item, task, what) for item in items]


def binary_payload(media: Media, parameters: Mapping[str, Any]) -> Payload:
    """Raw bytes when there are no parameters, else base64 JSON (what the service expects)."""
    if not parameters:
        return Payload(data=media.data, content_type=media.mime)
    return Payload(json={"inputs": media.b64(), "parameters": dict(parameters)})


def labels_from(data: Any, task: str) -> list[Label]:
    """Parse ``[{label, score}]``, its nested ``[[...]]`` form, or ``{labels, scores}``."""
    data = unwrap_single(data)
    if isinstance(data, Mapping) and "labels" in data and "scores" in data:
        data = [
            {"label": lab, "score": s}
            for lab, s in zip(data["labels"], data["scores"], strict=False)
        ]
    items = expect_list(data, task, "a list of {label, score}")
    labels = parse_list_as(Label, items, task, "label")
    return sorted(labels, key=lambda lab: lab.score, reverse=True)


def render_labels(labels: Sequence[Label], limit: int = 10) -> str:
    """``POSITIVE 0.9999, NEGATIVE 0.0001`` (best first, at most ``limit``)."""
    shown = ", ".join(f"{lab.label} {fmt_score(lab.score)}" for lab in labels[:limit])
    more = len(labels) - limit
    return shown + (f" (+{more} more)" if more > 0 else "") if shown else "no labels returned"
