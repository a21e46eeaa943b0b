"""HFChatModel: a LangChain chat model over Hugging Face's OpenAI-compatible chat completions.

Requests go through the same pure builders and the one retrying send path as the task clients
(:mod:`hf_tools.http`), so auth, retries and the error tree are the same. What is specific to
chat lives here as pure functions: message conversion, payload and URL building, response and
tool-call parsing (tolerant of TGI's object ``arguments`` and integer ids), SSE decoding and
stream assembly. The I/O methods only connect those pieces.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

import httpx2
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolCallChunk,
    ToolMessage,
    UsageMetadata,
)
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    model_validator,
)

from hf_tools.chat_wire import (
    CHAT_TASK,
    WireChoice,
    WireCompletion,
    WireFunction,
    WireMessage,
    WireToolCall,
    read_completion,
    usage_counts,
    well_formed,
    wire_completion,
)
from hf_tools.client import Closeable, LoopPools, split_transport
from hf_tools.config import (
    AUTO,
    DEFAULT_MAX_JSON_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    RetryPolicy,
    Settings,
)
from hf_tools.errors import (
    ConfigurationError,
    HFConnectionError,
    ResponseFormatError,
)
from hf_tools.http import (
    HFRequest,
    RawResponse,
    build_request,
    decode_body,
    redacting,
    send_async,
    send_sync,
    sync_pool,
)
from hf_tools.langchain.chat_media import ainline_local_images, inline_local_images
from hf_tools.routing import DEFAULT_CHAT_BASE_URL, chat_url
from hf_tools.schema import strict_schema
from hf_tools.sse import SSEDecoder, SurrogateJoiner, json_objects
from hf_tools.streaming import aiter_events, iter_events
from hf_tools.tasks._base import response_shape

__all__ = [
    "DEFAULT_CHAT_BASE_URL",
    "HFChatModel",
    "SSEDecoder",
    "StreamAssembler",
    "chat_payload",
    "chat_url",
    "message_to_dict",
    "parse_completion",
    "parse_tool_call",
    "response_format_for",
    "tool_choice_payload",
]

_TASK = CHAT_TASK
# Keys langchain-core passes through bind() that are not request parameters.
_NOT_PARAMS = frozenset({"ls_structured_output_format", "stream_usage"})


# ---------------------------------------------------------------------------- requests (pure)


def _text_of(content: str | list[str | dict[str, Any]]) -> str:
    """The text of a message whose content may be a list of blocks (tool results, AI replies)."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        else:  # non-text blocks have no place in a text field; keep them readable
            parts.append(json.dumps(block, ensure_ascii=False))
    return "".join(parts)


def _assistant_text(content: str | list[str | dict[str, Any]]) -> str:
    """An AI message's text only: tool_call, tool_use, reasoning... blocks are not text."""
    if isinstance(content, str):
        return content
    return _text_of([b for b in content if isinstance(b, str) or b.get("type") == "text"])


def _user_part(block: str | dict[str, Any]) -> dict[str, Any]:
    """One content part in OpenAI form; LangChain's standard image blocks become image_url."""
    if isinstance(block, str):
        return {"type": "text", "text": block}
    if block.get("type") == "image":
        data = block.get("base64") or block.get("data")
        if block.get("url"):
            return {"type": "image_url", "image_url": {"url": block["url"]}}
        if data:
            mime = block.get("mime_type") or "image/png"
            return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}
    return dict(block)  # OpenAI parts (text, image_url) pass through


def _user_content(content: str | list[str | dict[str, Any]]) -> str | list[dict[str, Any]]:
    """User content as sent: a string, or a list of OpenAI parts."""
    if isinstance(content, str):
        return content
    return [_user_part(b) for b in content]


def _tool_call_dict(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call["id"] or _new_id(),
        "type": "function",
        "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
    }


def message_to_dict(message: BaseMessage) -> dict[str, Any]:
    """One LangChain message -> one OpenAI chat message.

    Raises:
        ValueError: a message type chat completions cannot carry.
    """
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": _text_of(message.content)}
    if isinstance(message, HumanMessage):
        return {"role": "user", "content": _user_content(message.content)}
    if isinstance(message, AIMessage):
        out: dict[str, Any] = {"role": "assistant", "content": _assistant_text(message.content)}
        if message.tool_calls:
            out["tool_calls"] = [_tool_call_dict(c) for c in message.tool_calls]
        return out
    if isinstance(message, ToolMessage):
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": _text_of(message.content),
        }
    if isinstance(message, ChatMessage):
        return {"role": message.role, "content": _text_of(message.content)}
    msg = f"HFChatModel cannot send a {type(message).__name__}"
    raise ValueError(msg)


def chat_payload(
    messages: Sequence[BaseMessage],
    *,
    model: str,
    params: Mapping[str, Any],
    stream: bool = False,
    stream_usage: bool = False,
) -> dict[str, Any]:
    """The JSON body: ``model`` first (the router reads it from a prefix), params only when set.

    Raises:
        ValueError: ``n`` other than 1 (one answer per call; call again for more).
    """
    body: dict[str, Any] = {"model": model, "messages": [message_to_dict(m) for m in messages]}
    body.update({k: v for k, v in params.items() if v is not None and k not in _NOT_PARAMS})
    if body.get("n", 1) != 1:
        # Only the first choice would be read: refuse rather than pay for answers never seen.
        msg = f"HFChatModel returns one answer per call; n={body['n']} is not supported"
        raise ValueError(msg)
    if body.get("tools") == []:
        # OpenAI-compatible servers reject an empty tools list (an agent without tools).
        del body["tools"]
        body.pop("tool_choice", None)
    if stream:
        body["stream"] = True
        if stream_usage:
            body["stream_options"] = {"include_usage": True}
    return body


def tool_choice_payload(
    choice: str | bool | dict[str, Any], tools: Sequence[Mapping[str, Any]]
) -> str | dict[str, Any]:
    """LangChain's ``tool_choice`` -> the wire value.

    ``"auto" | "none" | "required"`` as-is, ``"any"`` -> ``"required"``, a tool name or ``True``
    (exactly one tool bound) -> that function, a dict as-is.

    Raises:
        ValueError: ``True`` with several tools, or a name that is not among the tools.
    """
    if isinstance(choice, dict):
        return choice
    names = [t["function"]["name"] for t in tools]
    if choice is True:
        if len(names) != 1:
            msg = f"tool_choice=True needs exactly one tool, got {len(names)}"
            raise ValueError(msg)
        choice = names[0]
    if choice == "any":
        return "required"
    if choice in ("auto", "none", "required"):
        return str(choice)
    if choice not in names:
        msg = f"tool_choice {choice!r} is not one of the bound tools: {names}"
        raise ValueError(msg)
    return {"type": "function", "function": {"name": choice}}


def _with_strict(tool: dict[str, Any], strict: bool) -> dict[str, Any]:
    """``tool`` (OpenAI format) with ``function.strict`` set, its schema strict when ``True``.

    LangChain's ``strict=True`` leaves OpenAI-format dicts as given; the schema of every tool
    is made strict here the same way, so a dict with optional properties is not refused.
    """
    function = tool.get("function")
    if not isinstance(function, dict):
        return tool
    if function.get("strict", strict) != strict:
        msg = f"tool {function.get('name')!r} already has strict={function['strict']}"
        raise ValueError(msg)
    function = {**function, "strict": strict}
    if strict and isinstance(function.get("parameters"), dict):
        function["parameters"] = strict_schema(function["parameters"])
    return {**tool, "function": function}


def response_format_for(
    schema: dict[str, Any] | type, *, strict: bool | None = None
) -> dict[str, Any]:
    """OpenAI ``response_format`` asking for JSON that follows ``schema`` (pydantic, dict...).

    The router forwards it; hf-inference rewrites it to TGI's grammar form server-side.
    """
    function = convert_to_openai_tool(schema)["function"]
    parameters = function.get("parameters", {})
    spec: dict[str, Any] = {
        "name": function["name"],
        "schema": strict_schema(parameters) if strict else parameters,
    }
    if function.get("description"):
        spec["description"] = function["description"]
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


# --------------------------------------------------------------------------- responses (pure)


def _new_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _call_id(raw: WireToolCall) -> str:
    # LangChain needs a string id to pair a call with its result.
    value = raw.id
    return _new_id() if value is None or value == "" else str(value)


def parse_tool_call(raw: Mapping[str, Any] | WireToolCall) -> ToolCall | InvalidToolCall:
    """One wire tool call -> a ToolCall, or an InvalidToolCall when its arguments are unusable.

    ``arguments`` may be a JSON string (OpenAI) or already an object (TGI).

    Raises:
        pydantic.ValidationError: ``raw`` is not a tool call object.
    """
    call = raw if isinstance(raw, WireToolCall) else WireToolCall.model_validate(raw)
    function = call.function or WireFunction()
    name = function.name or ""
    arguments = function.arguments
    call_id = _call_id(call)
    args: Any = arguments
    error: str | None = None
    if arguments is None or arguments == "":
        args = {}
    elif isinstance(arguments, str):
        try:
            args = json.loads(arguments)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            error = f"arguments are not valid JSON: {type(exc).__name__}: {str(exc)[:80]}"
    if error is None and not isinstance(args, dict):
        error = f"arguments must be a JSON object, got {type(args).__name__}"
    if error is not None:
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        return invalid_tool_call(name=name, args=text, id=call_id, error=error)
    return tool_call(name=name, args=args, id=call_id)


def _usage(data: WireCompletion) -> UsageMetadata | None:
    counts = usage_counts(data)
    if counts is None:
        return None
    return UsageMetadata(
        input_tokens=counts["input_tokens"],
        output_tokens=counts["output_tokens"],
        total_tokens=counts["total_tokens"],
    )


def _metadata(data: WireCompletion, choice: WireChoice) -> dict[str, Any]:
    meta = {
        "model_name": data.model,
        "finish_reason": choice.finish_reason,
        "id": data.id,
        "system_fingerprint": data.system_fingerprint,
    }
    return {k: v for k, v in meta.items() if v is not None}


def parse_completion(data: Any, *, model: str | None = None) -> ChatResult:
    """A chat completion body -> ChatResult (content, tool calls, usage, metadata).

    Raises:
        ResponseFormatError: the body is not a chat completion (any shape we cannot read).
        APIError: the body is an ``{"error": ...}`` object.
    """
    with response_shape(_TASK, data, model):
        wire, choice = read_completion(data, model)
        message = choice.message or WireMessage()
        calls = [parse_tool_call(c) for c in message.calls()]
        text = message.content or ""  # null when the model only calls tools
        ai = AIMessage(
            content=well_formed(text) if isinstance(text, str) else text,
            tool_calls=[c for c in calls if c["type"] == "tool_call"],
            invalid_tool_calls=[c for c in calls if c["type"] == "invalid_tool_call"],
            usage_metadata=_usage(wire),
            response_metadata=_metadata(wire, choice),
            id=wire.id or None,
        )
        info = {"finish_reason": choice.finish_reason}
        return ChatResult(
            generations=[ChatGeneration(message=ai, generation_info=info)],
            llm_output={"model_name": wire.model, "token_usage": data.get("usage")},
        )


# ------------------------------------------------------------------------- streaming (pure)


def _tool_call_chunk(raw: WireToolCall, position: int) -> ToolCallChunk:
    function = raw.function or WireFunction()
    arguments = function.arguments
    if arguments is not None and not isinstance(arguments, str):
        arguments = json.dumps(arguments)  # TGI may stream the arguments as an object
    return ToolCallChunk(
        name=function.name or None,
        args=arguments,
        id=None if raw.id is None or raw.id == "" else str(raw.id),
        index=raw.index if raw.index is not None else position,
        type="tool_call_chunk",
    )


class StreamAssembler:
    """Turns stream events into ChatGenerationChunks; knows whether the stream finished.

    A stream is finished by ``[DONE]`` or a ``finish_reason``; :meth:`close` raises if it
    ended before either, so a cut connection is never mistaken for a short answer.

    Args:
        model: the model named in errors.
        seed: what ids of tool calls streamed without one derive from (the request body, so a
            replayed run sends the same ids); random when not given.
    """

    def __init__(self, model: str | None = None, *, seed: bytes | None = None) -> None:
        self.model = model
        self.done = False
        self.finished = False
        self._seed = seed if seed is not None else uuid.uuid4().bytes
        self._ids: dict[int, str] = {}  # tool-call index -> the id its first chunk carried
        self._usage: UsageMetadata | None = None
        self._chunks = 0  # chunks handed out: none at the end is an empty generation
        # A high surrogate that ended a chunk's text waits there for its low half.
        self._text = SurrogateJoiner()

    def feed(self, payload: str) -> list[ChatGenerationChunk]:
        """One event payload -> zero or more chunks.

        Raises:
            APIError: the server sent an ``{"error": ...}`` event.
        """
        if self.done:
            return []
        if payload.strip() == "[DONE]":
            self.done = True
            return []
        chunks: list[ChatGenerationChunk] = []
        for data in json_objects(payload, _TASK):
            with response_shape(_TASK, data, self.model):
                chunk = self._chunk(wire_completion(data, self.model, None))
            if chunk is not None:
                chunks.append(chunk)
        self._chunks += len(chunks)
        return chunks

    def _call_chunk(self, raw: WireToolCall, position: int) -> ToolCallChunk:
        call = _tool_call_chunk(raw, position)
        index = call["index"]
        assert index is not None  # _tool_call_chunk always sets one
        known = self._ids.get(index)
        if known is not None and call["id"] in (None, known):
            # LangChain concatenates names: only the first chunk of a call may carry its name
            # (and id), or a name repeated in every delta becomes "echoecho".
            return ToolCallChunk(
                name=None, args=call["args"], id=None, index=index, type="tool_call_chunk"
            )
        call_id = call["id"]
        if call_id is None:
            # TGI streams "id": ""; the AIMessage, the ToolMessage and the next request must
            # all carry the same id, so one is made here, once per call.
            digest = hashlib.sha256(self._seed + str(index).encode()).hexdigest()
            call_id = call["id"] = f"call_{digest[:24]}"
        self._ids[index] = call_id  # a new id at a known index is a new call: kept whole
        return call

    def _chunk(self, data: WireCompletion) -> ChatGenerationChunk | None:
        choice = data.choices[0] if data.choices else None
        usage = _usage(data)
        if usage is not None:
            # Some servers send running totals in every chunk: keep the last, emit it once.
            self._usage = usage
        if choice is None:
            return None
        delta = choice.delta or choice.message or WireMessage()  # message: a whole answer
        calls = [self._call_chunk(c, i) for i, c in enumerate(delta.calls())]
        finish = choice.finish_reason
        if finish:
            self.finished = True
        content = delta.content or ""
        message = AIMessageChunk(
            content=self._text.feed(content) if isinstance(content, str) else content,
            tool_call_chunks=calls,
            response_metadata=_metadata(data, choice) if finish else {},
            id=data.id or None,
        )
        info = {"finish_reason": finish} if finish else None
        return ChatGenerationChunk(message=message, generation_info=info)

    def close(self) -> list[ChatGenerationChunk]:
        """End of the byte stream: the last chunk, with the token usage, if the server sent any.

        Raises:
            HFConnectionError: the stream stopped before ``[DONE]`` or a finish reason.
            ResponseFormatError: the stream finished with no chunk at all (``data: [DONE]``
                only): LangChain would raise a bare ValueError on the empty generation.
        """
        if not (self.done or self.finished):
            msg = "the stream ended before the model finished (connection cut?)"
            raise HFConnectionError(msg, task=_TASK, model=self.model)
        # A high surrogate no low one followed: replaced, never handed on alone.
        last = self._text.flush()
        if self._usage is None and not last:
            if not self._chunks:
                msg = "the stream finished without any message chunk (an empty answer)"
                raise ResponseFormatError(msg, task=_TASK, model=self.model)
            return []
        usage, self._usage = self._usage, None
        message = AIMessageChunk(content=last, usage_metadata=usage)
        return [ChatGenerationChunk(message=message)]


# ------------------------------------------------------------------------------- the model


class HFChatModel(BaseChatModel, Closeable):
    """Chat model for Hugging Face Inference Providers and TGI endpoints (OpenAI-compatible).

    Example:
        ```python
        from hf_tools import HFChatModel

        llm = HFChatModel(model="meta-llama/Llama-3.1-8B-Instruct", max_tokens=200)
        llm.bind_tools([my_tool]).invoke("What is in this picture?")
        ```

    ``model`` is a Hub id, optionally with ``:provider`` or a policy (``:fastest``). With
    ``endpoint_url`` (a dedicated TGI endpoint) requests go to
    ``{endpoint_url}/v1/chat/completions`` with ``"model": "tgi"`` unless a model is given.
    The api key defaults to ``HF_TOKEN``, which is then only sent to Hugging Face hosts; an
    explicit ``api_key`` goes wherever you point it.

    ``timeout`` bounds a whole call, a stream included; answers (and a whole stream) larger
    than ``max_json_bytes`` raise ``ResponseTooLargeError``. ``close()`` / ``aclose()`` (or
    ``with`` / ``async with``) free the connection pools.
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    model: str | None = Field(default=None, description="Hub model id, e.g. org/name[:provider].")
    base_url: str = DEFAULT_CHAT_BASE_URL
    endpoint_url: str | None = None
    provider: str | None = Field(
        default=None,
        description='Sent as model "org/name:provider"; None or "auto": the router picks.',
    )
    router_url: str | None = Field(
        default=None, description="Default https://router.huggingface.co; base_url is its /v1."
    )
    bill_to: str | None = Field(default=None, description="Sent as X-HF-Bill-To on router calls.")
    api_key: SecretStr | None = Field(default=None, repr=False)
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    timeout: float = Field(
        default=DEFAULT_TIMEOUT, description="Seconds for a whole call: retries and stream too."
    )
    max_retries: int | None = Field(
        default=None,
        description=f"Retries per call (default {DEFAULT_MAX_RETRIES}); overrides retry's.",
    )
    retry: RetryPolicy | None = None
    max_json_bytes: int = Field(
        default=DEFAULT_MAX_JSON_BYTES, description="Largest answer (or stream) read, in bytes."
    )
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    allowed_roots: str | Path | Sequence[str | Path] | None = Field(
        default=None,
        description="Folders local image files in messages may come from (default: the"
        " working directory; [] for none).",
    )
    stream_usage: bool = False
    """Ask for token usage at the end of a stream (``stream_options.include_usage``)."""
    streaming: bool = False
    """Stream even under ``invoke`` (LangChain then adds the chunks up into one message)."""
    transport: Any = Field(default=None, exclude=True)
    """An httpx2 transport for every request, as ``HFClient(transport=...)`` (tests)."""

    _settings: Settings = PrivateAttr()
    _http: httpx2.Client | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _pools: LoopPools = PrivateAttr()
    _transports: tuple[httpx2.BaseTransport | None, httpx2.AsyncBaseTransport | None] = PrivateAttr(
        default=(None, None)
    )

    @model_validator(mode="before")
    @classmethod
    def _extra_to_model_kwargs(cls, values: Any) -> Any:
        """Unknown keyword arguments go into the request body, with a warning (as ChatOpenAI).

        Chat-completion servers take many optional parameters (``presence_penalty``,
        ``logprobs``...); dropping a misspelled one silently would hide the mistake.
        """
        if not isinstance(values, dict):
            return values
        known = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
        extra = sorted(k for k in values if k not in known)
        if not extra:
            return values
        warnings.warn(
            f"HFChatModel has no parameter {', '.join(extra)}: sent in the request body as"
            " model_kwargs (pass them in model_kwargs to silence this)",
            UserWarning,
            stacklevel=2,
        )
        values = dict(values)
        given = dict(values.get("model_kwargs") or {})
        values["model_kwargs"] = {**given, **{k: values.pop(k) for k in extra}}
        return values

    @model_validator(mode="after")
    def _build_settings(self) -> HFChatModel:
        if self.model is None and self.endpoint_url is None:
            msg = "HFChatModel needs model='org/name' or endpoint_url='https://...'"
            raise ConfigurationError(msg)
        self._check_provider()
        if self.router_url is not None and "base_url" not in self.model_fields_set:
            self.base_url = f"{self.router_url.rstrip('/')}/v1"
        self._settings = Settings.create(
            api_key=self.api_key,
            base_url=self.endpoint_url or self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            retry=self.retry,
            max_json_bytes=self.max_json_bytes,
            provider=self.provider,  # its name is checked against the known providers
            router_url=self.router_url,
            bill_to=self.bill_to,
            allowed_roots=self.allowed_roots,
        )
        self._transports = split_transport(self.transport)
        self._pools = LoopPools(self._settings.timeout, self._transports[1])
        return self

    def _check_provider(self) -> None:
        """Refuse a provider that cannot apply: a dedicated endpoint, or a model's other one."""
        if self.provider is None:
            return
        if self.endpoint_url is not None:
            msg = "provider picks a router provider; endpoint_url is your own endpoint: pass one"
            raise ConfigurationError(msg)
        suffix = (self.model or "").partition(":")[2]
        if suffix and suffix != self.provider:
            msg = f"model {self.model!r} names provider {suffix!r}, but provider={self.provider!r}"
            raise ConfigurationError(msg)

    # -- LangChain metadata

    @property
    def _llm_type(self) -> str:
        return "huggingface-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "base_url": self.base_url,
            "endpoint_url": self.endpoint_url,
            "provider": self.provider,
            **self._default_params(),
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="huggingface",
            ls_model_name=kwargs.get("model") or self.wire_model,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    # -- request building (pure)

    @property
    def wire_model(self) -> str:
        """The ``model`` sent: the given id (``:provider`` added), or ``"tgi"`` for an endpoint."""
        if self.model is None:
            return "tgi"
        if self.provider in (None, AUTO) or ":" in self.model:
            return self.model
        return f"{self.model}:{self.provider}"  # the router's own way to name a provider

    @property
    def url(self) -> str:
        """Where requests are POSTed."""
        return chat_url(self.base_url, self.endpoint_url)

    def _default_params(self) -> dict[str, Any]:
        params = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "stop": self.stop,
            "seed": self.seed,
        }
        return {**{k: v for k, v in params.items() if v is not None}, **self.model_kwargs}

    def build_request(
        self,
        messages: Sequence[BaseMessage],
        stop: list[str] | None = None,
        *,
        stream: bool = False,
        **kwargs: Any,
    ) -> HFRequest:
        """The request for one call (no I/O); call-time ``kwargs`` override the defaults."""
        params = {**self._default_params(), **kwargs}
        if stop is not None:
            params["stop"] = stop
        usage = bool(kwargs.get("stream_usage", self.stream_usage))
        body = chat_payload(
            messages, model=self.wire_model, params=params, stream=stream, stream_usage=usage
        )
        return build_request(
            self._settings,
            self.url,
            json=body,
            accept="text/event-stream" if stream else None,
            task=_TASK,
            model=self.wire_model,
            stream=stream,
        )

    def _finish(self, raw: RawResponse, request: HFRequest) -> ChatResult:
        with redacting(request):
            return parse_completion(decode_body(raw, request), model=request.model)

    # -- connection pools

    @property
    def http(self) -> httpx2.Client:
        """The pooled blocking httpx2 client (created on first use)."""
        with self._lock:  # one pool even when threads make the first calls together
            if self._http is None or self._http.is_closed:
                self._http = sync_pool(self._settings.timeout, self._transports[0])
            return self._http

    @property
    def ahttp(self) -> httpx2.AsyncClient:
        """The pooled httpx2 client of the running event loop (a pool belongs to its loop)."""
        return self._pools.get()

    def close(self) -> None:
        """Close the blocking pool and the pools of every event loop."""
        if self._http is not None:
            self._http.close()
        self._pools.close()

    async def aclose(self) -> None:
        """Close every pool, the running loop's awaited."""
        if self._http is not None:
            self._http.close()
        await self._pools.aclose()

    # -- LangChain entry points

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self.build_request(inline_local_images(messages, self._settings), stop, **kwargs)
        return self._finish(send_sync(self.http, request, self._settings.retry), request)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        inlined = await ainline_local_images(messages, self._settings)
        request = self.build_request(inlined, stop, **kwargs)
        raw = await send_async(self.ahttp, request, self._settings.retry)
        return self._finish(raw, request)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        inlined = inline_local_images(messages, self._settings)
        request = self.build_request(inlined, stop, stream=True, **kwargs)
        raw = send_sync(self.http, request, self._settings.retry)
        assembler = StreamAssembler(request.model, seed=request.content)
        for chunk in iter_events(raw, request, assembler):  # capped, within the deadline
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        inlined = await ainline_local_images(messages, self._settings)
        request = self.build_request(inlined, stop, stream=True, **kwargs)
        raw = await send_async(self.ahttp, request, self._settings.retry)
        assembler = StreamAssembler(request.model, seed=request.content)
        async for chunk in aiter_events(raw, request, assembler):
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (LangChain tools, pydantic models, functions or OpenAI dicts).

        Args:
            tools: what the model may call.
            tool_choice: ``"auto"``, ``"none"``, ``"required"`` (``"any"``), a tool name, or
                ``True`` with exactly one tool.
            strict: set as ``function.strict`` of every tool (OpenAI's format; not a top-level
                request parameter). ``True`` also makes each schema strict: every property
                required (ours are nullable when optional: null means absent), no unknown keys.
            **kwargs: more request parameters to bind.
        """
        formatted = [convert_to_openai_tool(t) for t in tools]
        if strict is not None:  # OpenAI dicts come back as given: add it to them too
            formatted = [_with_strict(t, strict) for t in formatted]
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = tool_choice_payload(tool_choice, formatted)
        return self.bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        method: Literal["function_calling", "json_schema", "json_mode"] = "function_calling",
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A runnable that answers with ``schema`` (a pydantic object for a pydantic class).

        Args:
            schema: pydantic class, TypedDict, JSON schema or OpenAI tool dict.
            include_raw: return ``{"raw", "parsed", "parsing_error"}`` instead.
            method: ``"function_calling"`` (a forced call of one tool named after the schema),
                ``"json_schema"`` (``response_format``), or ``"json_mode"`` (any JSON object).
            strict: ``json_schema.strict``, or the tool's ``function.strict`` with
                ``"function_calling"``.
            **kwargs: unsupported; raise.

        Raises:
            ValueError: unknown method or arguments.
        """
        if kwargs:
            msg = f"Received unsupported arguments {kwargs}"
            raise ValueError(msg)
        is_pydantic = isinstance(schema, type) and issubclass(schema, BaseModel)
        trace = {"ls_structured_output_format": {"kwargs": {"method": method}, "schema": schema}}
        parser: Runnable[Any, Any]
        if method == "function_calling":
            name = convert_to_openai_tool(schema)["function"]["name"]
            llm = self.bind_tools([schema], tool_choice=name, strict=strict, **trace)
            parser = (
                PydanticToolsParser(tools=[schema], first_tool_only=True)
                if is_pydantic
                else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
            )
        elif method in ("json_schema", "json_mode"):
            fmt = (
                response_format_for(schema, strict=strict)
                if method == "json_schema"
                else {"type": "json_object"}
            )
            llm = self.bind(response_format=fmt, **trace)
            parser = (
                PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()
            )
        else:
            msg = f"method must be function_calling, json_schema or json_mode, got {method!r}"
            raise ValueError(msg)
        if not include_raw:
            return llm | parser
        parse = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parse.with_fallbacks(
            [fallback], exception_key="parsing_error"
        )
