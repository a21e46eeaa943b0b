"""The adapter contract as data: requests, steps, jobs, and the errors a job can end with.

Nothing here does I/O. An :class:`Adapter` turns a :class:`Call` into a first :class:`Send`;
every response a driver gets back goes to that step's ``then``, which answers either
:class:`Done` (the task's Output) or the next :class:`Send` (a poll, a result download).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel

from hf_tools.errors import (
    JobCancelledError,
    JobFailedError,
    ResponseFormatError,
    excerpt,
)
from hf_tools.tasks._base import Media, Payload

__all__ = [
    "DEFAULT_ROUTER_URL",
    "HF_INFERENCE",
    "Adapter",
    "Call",
    "Done",
    "Job",
    "JobCancelledError",
    "JobFailedError",
    "JobState",
    "Lora",
    "Reply",
    "Request",
    "Send",
    "Step",
    "decode_data_uri",
    "dig",
    "download",
    "is_plain_path",
    "is_url",
    "without_none",
]

DEFAULT_ROUTER_URL = "https://router.huggingface.co"
HF_INFERENCE = "hf-inference"


def is_url(value: str) -> bool:
    """Whether a model setting is an endpoint URL (used as-is) rather than a model id."""
    return value.startswith(("https://", "http://"))


# A provider-side model id, or a path a provider hands back, goes into a router URL: path
# segments of plain characters ("org/name", "accounts/fireworks/models/x", "owner/model:v",
# "@cf/meta/x"), nothing that climbs ("..", "."), leaves the path ("?", "#") or hides either
# ("%", control characters, empty segments, a leading "/").
_SEGMENT = re.compile(r"[A-Za-z0-9_@+=~:,-][A-Za-z0-9_.@+=~:,-]*")
_MAX_PLAIN_PATH = 256


def is_plain_path(path: str) -> bool:
    """Whether ``path`` may be put into a URL path as it is (see ``_SEGMENT``)."""
    if not path or len(path) > _MAX_PLAIN_PATH:
        return False
    return all(_SEGMENT.fullmatch(part) for part in path.split("/"))


InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)

JobState = Literal["running", "done"]


@dataclass(frozen=True, slots=True)
class Lora:
    """A LoRA adapter on the Hub: the repo and the weights file its mapping names.

    A LoRA model is mapped to its base model's ``providerId`` plus ``adapterWeightsPath``;
    the provider loads the weights from the Hub (huggingface_hub sends the URLs below).
    """

    model: str
    weights_path: str
    hub_url: str

    @property
    def repo_url(self) -> str:
        """``{hub_url}/{model}`` (replicate's ``lora_weights``)."""
        return f"{self.hub_url.rstrip('/')}/{self.model}"

    @property
    def weights_url(self) -> str:
        """``{hub_url}/{model}/resolve/main/{weights_path}`` (fal's ``loras[].path``)."""
        return f"{self.repo_url}/resolve/main/{self.weights_path}"


@dataclass(slots=True)  # not frozen: built on every call; treat as immutable
class Call(Generic[InputT]):
    """One tool call as an adapter sees it: resolved routing, validated args, resolved media.

    Attributes:
        task: our task id (``"text-to-image"``).
        provider: the provider name as the router spells it (``"fal-ai"``).
        model: the provider-side model id (the Hub mapping's ``providerId``).
        args: the task's validated ``<Task>Input``.
        media: the resolved image/audio inputs, by input field name.
        router_url: provider calls go to ``{router_url}/{provider}{route}``.
        url: the first request's absolute URL when routing fixed it (the hf-inference format:
            ``base_url``, endpoint URLs, the router's chat route); None: the adapter's route
            under :attr:`base`.
        lora: the LoRA adapter the Hub mapping names (its weights go to the provider); None
            for a plain model.
    """

    task: str
    provider: str
    model: str
    args: InputT
    media: Mapping[str, Media] = field(default_factory=dict)
    router_url: str = DEFAULT_ROUTER_URL
    url: str | None = None
    lora: Lora | None = None

    @property
    def base(self) -> str:
        """``{router_url}/{provider}``: where every route of this provider hangs."""
        return f"{self.router_url.rstrip('/')}/{self.provider}"

    def get(self, url: str, purpose: Literal["call", "poll", "download"] = "poll") -> Request:
        """A GET of ``url``; the token goes along only when ``url`` is a router URL.

        A router URL built from a path the provider handed back must stay a plain path: a
        ``..`` there would send the token to another router route.

        Raises:
            ResponseFormatError: ``url`` (a provider's answer) is not a string, or a router URL
                that is not a plain path.
        """
        if not isinstance(url, str):
            msg = f"expected a URL, got {excerpt(repr(url), 80)}"
            raise self.format_error(msg)
        root = self.router_url.rstrip("/") + "/"
        under_router = url.startswith(root)
        if under_router and not is_plain_path(urlsplit(url[len(root) :]).path):
            msg = f"the job URL {excerpt(url, 120)!r} is not a plain path under the router: refused"
            raise self.format_error(msg)
        expect: Literal["json", "bytes"] = "bytes" if purpose == "download" else "json"
        return Request("GET", url, auth=under_router, expect=expect, purpose=purpose)

    def format_error(self, what: str) -> ResponseFormatError:
        """A ResponseFormatError naming the task and the provider-side model."""
        return ResponseFormatError(f"{self.provider}: {what}", task=self.task, model=self.model)

    def job_failed(
        self, message: str, job_id: Any = None, *, cancelled: bool = False
    ) -> JobFailedError:
        """The job's end as an error naming the task and the provider-side model."""
        kind = JobCancelledError if cancelled else JobFailedError
        return kind(message, job_id=job_id, task=self.task, model=self.model)


@dataclass(slots=True)  # not frozen: built on every call; treat as immutable
class Request:
    """One HTTP request for the driver to send.

    Attributes:
        method: ``GET`` or ``POST``.
        url: absolute URL.
        payload: the body (JSON or bytes); None for a GET.
        headers: headers this provider needs beyond the driver's own (auth, user agent).
        auth: send the Hugging Face token. True only for router URLs: a token is never sent
            to a provider's CDN or polling host, and such a URL is fetched by the pinned
            downloader (:func:`hf_tools.media.fetch`), never through the shared pool.
        expect: ``"json"`` (decode the body) or ``"bytes"`` (a result file).
        purpose: ``"call"``, ``"poll"`` (a job status) or ``"download"`` (a result URL, to be
            fetched by the same capped, deadline-bound downloader as media inputs).
    """

    method: Literal["GET", "POST", "PUT"]
    url: str
    payload: Payload | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: bool = True
    expect: Literal["json", "bytes"] = "json"
    purpose: Literal["call", "poll", "download"] = "call"


@dataclass(slots=True)  # not frozen: built on every call; treat as immutable
class Reply:
    """A 2xx response as the driver hands it back: decoded body and its content type."""

    body: Any
    content_type: str | None = None
    status: int = 200


@dataclass(slots=True)  # not frozen: built on every call; treat as immutable
class Done(Generic[OutputT]):
    """The call is over: ``output`` is the task's Output."""

    output: OutputT


@dataclass(slots=True)  # not frozen: built on every call; treat as immutable
class Send:
    """Send ``request`` (after waiting ``delay`` seconds), then pass its reply to ``then``.

    A driver bounds the whole chain by the call's deadline: a poll that would start after
    it is not sent (the call times out), and an async cancel stops the chain. ``offload``:
    ``then`` does CPU work that grows with the answer (mask decoding); an async driver runs
    it in a worker thread, off the event loop. ``cancel``: the request that cancels the
    provider's job this step polls, sent (best effort) when the caller cancels the call.
    """

    request: Request
    then: Callable[[Reply], Step]
    delay: float = 0.0
    offload: bool = False
    cancel: Request | None = None


Step = Send | Done[Any]


@dataclass(frozen=True, kw_only=True)
class Job:
    """How to follow a provider's asynchronous job, as pure functions.

    Attributes:
        state: a job body -> ``"running"`` or ``"done"``; raises :class:`JobFailedError` or
            :class:`JobCancelledError` (with the provider's message) when it ended badly.
        status_request: the submit response body -> the request that polls the job.
        result: the body that said ``"done"`` -> :class:`Done`, or the download of a result.
        interval: seconds between polls.
        cancel_request: the submit response body -> the request that cancels the job, where
            the provider has one.
    """

    state: Callable[[Any, Call[Any]], JobState]
    status_request: Callable[[Any, Call[Any]], Request]
    result: Callable[[Any, Call[Any]], Step]
    interval: float = 1.0
    cancel_request: Callable[[Any, Call[Any]], Request] | None = None

    def follow(self, submitted: Any, call: Call[Any]) -> Step:
        """The step after the submit response: the result if already done, else a poll."""
        if self.state(submitted, call) == "done":
            return self.result(submitted, call)
        cancel = self.cancel_request(submitted, call) if self.cancel_request else None
        return self._poll(self.status_request(submitted, call), call, cancel)

    def _poll(self, request: Request, call: Call[Any], cancel: Request | None) -> Send:
        def then(reply: Reply) -> Step:
            if self.state(reply.body, call) == "done":
                return self.result(reply.body, call)
            return self._poll(request, call, cancel)

        return Send(request, then, delay=self.interval, cancel=cancel)


@dataclass(frozen=True, kw_only=True)
class Adapter(Generic[InputT]):
    """What one provider needs to serve one task.

    Attributes:
        provider: router name of the provider.
        task: our task id.
        route: provider-side model id -> path under ``{router_url}/{provider}``.
        payload: the call -> request body (from the task's Input and the provider model id).
        parse: the first response's body -> :class:`Done`, or the next :class:`Send`.
        headers: extra request headers (e.g. replicate's ``Prefer: wait``).
        expect: what the first response is, ``"json"`` or ``"bytes"`` (an image answered
            directly, read up to ``max_binary_bytes``).
        offload: ``parse`` does CPU work that grows with the answer (see :class:`Send`).
    """

    provider: str
    task: str
    route: Callable[[str], str]
    payload: Callable[[Call[InputT]], Payload]
    parse: Callable[[Any, Call[InputT]], Step]
    headers: Mapping[str, str] = field(default_factory=dict)
    expect: Literal["json", "bytes"] = "json"
    offload: bool = False

    def url(self, call: Call[InputT]) -> str:
        """The absolute URL of the first request: routing's, else the route under the router."""
        return call.url or call.base + self.route(call.model)

    def start(self, call: Call[InputT]) -> Send:
        """The first step of a call: POST the payload to the route."""
        request = Request(
            "POST",
            self.url(call),
            payload=self.payload(call),
            headers=self.headers,
            expect=self.expect,
        )
        return Send(request, lambda reply: self.parse(reply.body, call), offload=self.offload)


def without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without the keys whose value is None (unset parameters are not sent)."""
    return {k: v for k, v in values.items() if v is not None}


def dig(body: Any, call: Call[Any], *path: str | int) -> Any:
    """``body[p0][p1]...``, or a ResponseFormatError naming the missing part."""
    value = body
    for i, key in enumerate(path):
        ok = (isinstance(value, Mapping) and key in value) or (
            isinstance(key, int) and isinstance(value, list) and -len(value) <= key < len(value)
        )
        if not ok:
            where = "".join(f"[{p!r}]" for p in path[: i + 1])
            msg = f"expected {where} in the response, got {excerpt(str(body), 120)!r}"
            raise call.format_error(msg)
        value = value[key]
    return value


def decode_data_uri(text: str, call: Call[Any]) -> bytes:
    """The bytes of a ``data:<mime>;base64,...`` URI (or of bare base64)."""
    payload = text.partition(",")[2] if text.startswith("data:") else text
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        msg = "the response holds invalid base64 data"
        raise call.format_error(msg) from None


def download(url: Any, call: Call[Any], then: Callable[[bytes], Step]) -> Step:
    """The step fetching a result URL; a ``data:`` URI is decoded in place, no request."""
    if not isinstance(url, str) or not url:
        msg = f"expected a result URL, got {excerpt(str(url), 80)!r}"
        raise call.format_error(msg)
    if url.startswith("data:"):
        return then(decode_data_uri(url, call))
    if not url.startswith(("https://", "http://")):
        msg = f"expected an http(s) result URL, got {excerpt(url, 80)!r}"
        raise call.format_error(msg)
    request = Request("GET", url, auth=False, expect="bytes", purpose="download")
    # Never the token: result files live on provider CDNs (fal.media, replicate.delivery).
    return Send(request, lambda reply: then(_as_bytes(reply.body, call)))


def _as_bytes(body: Any, call: Call[Any]) -> bytes:
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    msg = "expected the result file's bytes"
    raise call.format_error(msg)
