"""What a task is: a :class:`TaskSpec` of pure functions and pydantic models.

A task module defines ``<Task>Input`` (the flat arguments an LLM fills in),
``<Task>Parameters`` (the wire ``parameters``; generated from the task spec, with the Python-only
``<Task>PythonOnly`` the Input inherits, in :mod:`hf_tools.tasks._parameters` where there is one),
``<Task>Output`` (the normalized answer) and one ``SPEC``. The client and the tool factory do
the rest; nothing here does I/O.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, FiniteFloat, ValidationError
from pydantic.json_schema import SkipJsonSchema

from hf_tools.errors import HFToolsError, ResponseFormatError, snippet
from hf_tools.schema import portable_schema

__all__ = [
    "LABEL_FOREIGN",
    "CandidateLabels",
    "GuardedParse",
    "HFInferenceWire",
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
    "expect_objects",
    "first_field",
    "fmt_score",
    "labels_from",
    "parse_as",
    "parse_list_as",
    "render_labels",
    "require_fields",
    "response_shape",
    "snippet",
    "unwrap_single",
    "wire_parameters",
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


# What parsing raises on a body of a shape it does not expect. JSON decodes to dicts, lists,
# strings, numbers, booleans and None only, so a wrong shape surfaces as one of these (struct and
# zlib: binary data inside the answer, such as PNG masks), never as an error of the I/O.
_SHAPE_ERRORS = (
    TypeError,
    AttributeError,
    ValueError,  # pydantic's ValidationError, binascii and Unicode errors included
    LookupError,  # KeyError, IndexError
    ArithmeticError,  # float() of a 400-digit integer
    RecursionError,
    struct.error,
    zlib.error,
)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return type(exc).__name__


class response_shape:  # used as a function: ``with response_shape(task, data):``
    """Turn any failure to read ``data`` inside the block into a ResponseFormatError.

    A ResponseFormatError raised inside is labelled with ``task`` (parsers are shared:
    text2text-generation reads text-generation's answers); other errors of our own (an error
    object in a 2xx body) pass through unchanged. A class, not a ``@contextmanager``: every
    parse enters it.
    """

    __slots__ = ("_data", "_model", "_task")

    def __init__(self, task: str, data: Any, model: str | None = None) -> None:
        self._task, self._data, self._model = task, data, model

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, ResponseFormatError):
            exc.task, exc.model = self._task, exc.model or self._model
        elif isinstance(exc, _SHAPE_ERRORS) and not isinstance(exc, HFToolsError):
            msg = f"unexpected response format ({_reason(exc)}): {snippet(self._data)}"
            raise ResponseFormatError(msg, task=self._task, model=self._model) from exc


@dataclass(frozen=True, slots=True)
class GuardedParse(Generic[InputT, OutputT]):
    """A task's parse function whose every failure is a :class:`ResponseFormatError`.

    :class:`TaskSpec` wraps its ``parse`` in one, so no body shape, however odd, escapes as a
    TypeError, KeyError or pydantic error: one place for every task, not a check per field.
    """

    inner: Callable[[Any, InputT], OutputT]
    task: str

    def __call__(self, data: Any, args: InputT) -> OutputT:
        """Parse ``data``; raise ResponseFormatError (naming the task) if it cannot be read."""
        with response_shape(self.task, data):
            return self.inner(data, args)


@dataclass(frozen=True, slots=True)
class HFInferenceWire(Generic[InputT, OutputT]):
    """How hf-inference (and any server speaking its format) carries one task: pure functions.

    The task module writes it next to the contract, so adding a task stays one module;
    :mod:`hf_tools.providers.hf_inference` turns it into the task's hf-inference adapter, and
    routing (:func:`hf_tools.routing.hf_inference_url`) reads ``pipeline`` and ``chat``.

    Attributes:
        build: arguments (+ resolved media) -> request body.
        parse: decoded response body (+ arguments) -> output; accepts every known shape.
        pipeline: ``/pipeline/{pipeline}`` route suffix (feature-extraction, similarity).
        chat: the task speaks OpenAI chat completions: it goes to a chat-completions route
            and its body names the model first (``{"model": ..., **body}``), as the router
            reads it; an endpoint URL is named ``"tgi"``.
        accept: ``Accept`` header to send.
        response: ``"json"`` or ``"bytes"`` (binary answers such as images).
        parse_in_thread: ``parse`` does CPU work that grows with the answer (mask decoding);
            the async driver runs it in a worker thread, off the event loop.
    """

    build: Callable[[InputT, Mapping[str, Media]], Payload]
    parse: Callable[[Any, InputT], OutputT]
    _: KW_ONLY
    pipeline: str | None = None
    chat: bool = False
    accept: str | None = None
    response: Literal["json", "bytes"] = "json"
    parse_in_thread: bool = False


@dataclass(frozen=True, kw_only=True)
class TaskSpec(Generic[InputT, OutputT]):
    """One Hugging Face task: what it means, as data and pure functions (no way of sending).

    Attributes:
        task: the Hugging Face task id, e.g. ``"text-classification"``.
        description: what the LLM reads to choose the tool: when to use it, what comes back.
        input_model: ``<Task>Input``, the tool's argument schema.
        output_model: ``<Task>Output``, the normalized result (the tool artifact).
        render: output -> short text for the LLM.
        default_model: model used when the toolkit names none.
        serving: ``((provider, Hub model id), ...)``, best first: who is known to serve the
            task, with which default model (the catalog, :mod:`hf_tools.catalog`, is derived
            from these). Empty: nobody serves it by default; it needs a model the user names.
        family: the tool family a host may offer whole (``text``, ``vision``, ``audio``,
            ``generation``, ``custom``).
        example: valid arguments, used by the docs and the contract tests.
        hf_inference: how hf-inference carries the task (:class:`HFInferenceWire`); None for
            a task hf-inference does not speak.
        media_fields: input fields holding an image/audio reference to resolve before sending.
        needs_endpoint: the task only exists as a configured endpoint URL (``custom``); it has
            no ``default_model``.
        example_endpoint: an endpoint URL for ``example`` (docs and contract tests).
        tags: free-form labels (catalog filters).

    The wire's ``parse`` is wrapped in a :class:`GuardedParse` on creation: whatever it raises
    on an unexpected body reaches callers as a ResponseFormatError.
    """

    task: str
    description: str
    input_model: type[InputT]
    output_model: type[OutputT]
    render: Callable[[OutputT], str]
    default_model: str
    example: Mapping[str, Any]
    serving: tuple[tuple[str, str], ...] = ()
    family: str = "custom"
    hf_inference: HFInferenceWire[InputT, OutputT] | None = None
    media_fields: tuple[str, ...] = ()
    needs_endpoint: bool = False
    example_endpoint: str | None = None
    tags: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        wire = self.hf_inference
        if wire is not None and not isinstance(wire.parse, GuardedParse):
            guarded = replace(wire, parse=GuardedParse(wire.parse, self.task))
            object.__setattr__(self, "hf_inference", guarded)

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
    score: FiniteFloat = Field(description="Probability or score, 0-1 for most models.")


def fmt_score(score: float) -> str:
    """Scores as the LLM reads them: 4 decimals, no exponent noise."""
    return f"{score:.4f}"


def expect_list(data: Any, task: str, what: str = "a list") -> list[Any]:
    """Return ``data`` as a list or raise a ResponseFormatError naming the task."""
    if not isinstance(data, list):
        msg = f"expected {what} from the server, got {snippet(data)}"
        raise ResponseFormatError(msg, task=task)
    return data


def expect_objects(data: Any, task: str, what: str) -> list[Any]:
    """A list of answer objects: ``[{...}]``, one object alone, or the list nested once more."""
    data = unwrap_single(data)
    return expect_list([data] if isinstance(data, Mapping) else data, task, what)


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
    msg = f"expected {{{key!r}: str}} from the server, got {snippet(data)}"
    raise ResponseFormatError(msg, task=task)


def parse_as(model: type[ModelT], data: Any, task: str, what: str) -> ModelT:
    """Validate one server object, turning a mismatch into a ResponseFormatError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        msg = f"unexpected {what} format ({_reason(exc)}): {snippet(data)}"
        raise ResponseFormatError(msg, task=task) from None


def parse_list_as(model: type[ModelT], items: Sequence[Any], task: str, what: str) -> list[ModelT]:
    """:func:`parse_as` for each item of a list."""
    return [parse_as(model, item, task, what) for item in items]


def wire_parameters(model: type[BaseModel], args: BaseModel) -> dict[str, Any]:
    """The task-spec parameters among ``args``, as ``model`` sends them; unset ones left out.

    ``model`` is a generated ``<Task>Parameters`` (:mod:`hf_tools.tasks._parameters`): the
    arguments an LLM fills in and the Python-only ones reach the wire by the spec's names.
    """
    values = args.model_dump(include=set(model.model_fields), exclude_none=True)
    return model.model_validate(values).model_dump(exclude_none=True)


def binary_payload(media: Media, parameters: Mapping[str, Any]) -> Payload:
    """Raw bytes when there are no parameters, else base64 JSON (what the service expects)."""
    if not parameters:
        return Payload(data=media.data, content_type=media.mime)
    return Payload(json={"inputs": media.b64(), "parameters": dict(parameters)})


def require_fields(
    item: Any, task: str, what: str, required: Sequence[str], foreign: Sequence[str] = ()
) -> Mapping[str, Any]:
    """``item`` as an object with every ``required`` key and none of ``foreign``.

    Parsers keep unknown fields, so without this a body of another task's shape reads as an
    empty or wrong answer (a label list as answers of score 0.9); ``foreign`` names the keys
    that only another task's answer has (a detection's ``box``, a segment's ``mask``).
    """
    if not isinstance(item, Mapping):
        msg = f"expected {what} object from the server, got {snippet(item)}"
        raise ResponseFormatError(msg, task=task)
    missing = [k for k in required if k not in item]
    extra = [k for k in foreign if k in item]
    if missing or extra:
        why = f"missing {missing}" if missing else f"with {extra}, another task's answer"
        msg = f"expected {what} object, got one {why}: {snippet(item)}"
        raise ResponseFormatError(msg, task=task)
    return item


LABEL_FOREIGN = ("box", "mask")
"""Keys of a ``{label, score}`` item that make it another task's answer (detection, masks)."""


def labels_from(data: Any, task: str) -> list[Label]:
    """Parse ``[{label, score}]``, its nested ``[[...]]`` form, or ``{labels, scores}``."""
    data = unwrap_single(data)
    pairs = isinstance(data, Mapping) and "labels" in data and "scores" in data
    if pairs and isinstance(data["labels"], list) and isinstance(data["scores"], list):
        data = [
            {"label": lab, "score": s}
            for lab, s in zip(data["labels"], data["scores"], strict=False)
        ]
    items = expect_list(data, task, "a list of {label, score}")
    for item in items:
        require_fields(item, task, "a {label, score}", ("label", "score"), LABEL_FOREIGN)
    labels = parse_list_as(Label, items, task, "label")
    return sorted(labels, key=lambda lab: lab.score, reverse=True)


def render_labels(labels: Sequence[Label], limit: int = 10) -> str:
    """``POSITIVE 0.9999, NEGATIVE 0.0001`` (best first, at most ``limit``)."""
    shown = ", ".join(f"{lab.label} {fmt_score(lab.score)}" for lab in labels[:limit])
    more = len(labels) - limit
    return shown + (f" (+{more} more)" if more > 0 else "") if shown else "no labels returned"
