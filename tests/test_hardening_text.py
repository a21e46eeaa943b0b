"""Every text an LLM reads is bounded and free of the key; no raw exception leaves a tool.

Provider answers are served in process (``httpx2.MockTransport``): the recorded bodies of
``cassettes/providers/``, or hostile variants of them. Result files are never fetched here:
every host resolves to loopback, which the media check refuses before any connection.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
import yaml
from langchain_core.messages import ToolMessage

import hf_tools.media
from hf_tools import AsyncHFClient, HFChatModel, HFClient, HuggingFaceToolkit
from hf_tools.errors import ConfigurationError, HFToolsError, ResponseFormatError
from hf_tools.langchain.tools import HFTool, HFToolError, make_tool
from hf_tools.providers import get_adapter
from hf_tools.routing import hub_task
from hf_tools.tasks import get_spec

from .conftest import CASSETTES, ROOT

# Shaped like a real token (39 characters), so the generic hf_ pattern alone is no help
# once a cut leaves less than 20 characters of it on one side of an ellipsis.
KEY = "hf_QwErTyUiOpAsDfGhJkLzXcVbNm0123456789"
HUB = "https://huggingface.co/api/models/"
NINE_MB = 9_000_000
# Mutants per recording and mode: 35 recordings x 2 modes x 8 = 560 calls, ~5 s.
MUTANTS = 8
PROVIDER_CASSETTES = sorted(
    p.relative_to(CASSETTES).as_posix()
    for p in (CASSETTES / "providers").glob("*/*/*.yaml")
    if p.parent.parent.name != "hub"
)


@pytest.fixture(autouse=True)
def _loopback_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every name resolves to 127.0.0.1: a result URL is refused, never fetched."""

    def getaddrinfo(host: str, port: int, *args: Any, **kw: Any) -> Any:
        return [(2, 1, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(hf_tools.media, "_getaddrinfo", getaddrinfo, raising=True)


def _leaks(text: str, key: str = KEY, window: int = 8) -> list[str]:
    """The pieces of ``key`` (``window`` characters or more) that ``text`` shows."""
    return [
        key[i : i + window] for i in range(len(key) - window + 1) if key[i : i + window] in text
    ]


# --------------------------------------------------------------------------- served tools


Answer = httpx2.Response | Callable[[httpx2.Request], httpx2.Response]


def _json(body: Any, status: int = 200) -> httpx2.Response:
    return httpx2.Response(status, json=body)


def _mapping(provider: str, provider_id: Any, task: str) -> httpx2.Response:
    entry = {"provider": provider, "providerId": provider_id, "status": "live", "task": task}
    return _json({"id": "org/model", "inferenceProviderMapping": [entry]})


def _transport(hub: httpx2.Response | None, answers: list[httpx2.Response]) -> httpx2.MockTransport:
    """Hub lookups get ``hub``; other requests get ``answers`` in turn, then a 404."""
    queue = list(answers)

    def handler(request: httpx2.Request) -> httpx2.Response:
        if str(request.url).startswith(HUB) and hub is not None:
            return httpx2.Response(hub.status_code, content=hub.content, headers=hub.headers)
        answer = queue.pop(0) if queue else _json({"error": "no more answers"}, 404)
        # A fresh copy: a response object is read once, by one kind of client.
        return httpx2.Response(answer.status_code, content=answer.content, headers=answer.headers)

    return httpx2.MockTransport(handler)


def _tool(
    task: str,
    answers: list[httpx2.Response],
    *,
    provider: str | None = None,
    provider_id: Any = None,
    model: str = "org/model",
    **settings: Any,
) -> HFTool:
    """The tool of ``task``, its calls answered in process (one transport per client).

    With a ``provider``, the Hub maps ``model`` (a new one per mapping: they are cached) to it.
    """
    kw: dict[str, Any] = {"api_key": KEY, **settings}
    hub = None
    if provider is not None:
        kw |= {"provider": provider, "models": {task: model}}
        hub = _mapping(provider, provider_id, hub_task(task))
    client = HFClient(transport=_transport(hub, answers), **kw)
    aclient = AsyncHFClient(transport=_transport(hub, answers), **kw)
    return make_tool(get_spec(task), client, aclient)


def _message(tool: HFTool, args: dict[str, Any], mode: str) -> ToolMessage:
    call = {"type": "tool_call", "id": "call-1", "name": tool.name, "args": args}
    message = tool.invoke(call) if mode == "sync" else asyncio.run(tool.ainvoke(call))
    assert isinstance(message, ToolMessage)
    return message


# ------------------------------------------------- 6. error messages are bounded, at source


HUGE = "E" * NINE_MB
FAL_QUEUE = "https://queue.fal.run/fal-ai/ltx-video/requests/r1"
FAILED_JOBS = {  # provider: (task, providerId, the job's last answer)
    "fal-ai": (
        "text-to-video",
        "fal-ai/ltx-video",
        {"request_id": "r1", "status": "FAILED", "error": HUGE, "response_url": FAL_QUEUE},
    ),
    "black-forest-labs": (
        "text-to-image",
        "flux-dev",
        {"id": "j1", "status": "Error", "details": HUGE},
    ),
    "replicate": (
        "text-to-image",
        "black-forest-labs/flux-schnell",
        {"id": "p1", "status": "failed", "error": HUGE},
    ),
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("provider", sorted(FAILED_JOBS))
def test_a_job_failure_with_a_9_mb_reason_is_a_bounded_error_message(
    provider: str, mode: str
) -> None:
    task, provider_id, failed = FAILED_JOBS[provider]
    tool = _tool(task, [_json(failed)], provider=provider, provider_id=provider_id)
    message = _message(tool, {"prompt": "a cake"}, mode)
    assert message.status == "error"
    assert "EEEE" in message.content  # the provider's words, cut
    assert len(message.content) <= 4000  # max_content_chars, as for a success
    # At the source too: the error a developer catches is as short.
    tool = _tool(task, [_json(failed)], provider=provider, provider_id=provider_id, model="o/m2")
    with pytest.raises(HFToolError) as info:
        tool.invoke({"prompt": "a cake"})
    assert len(str(info.value)) <= 4000
    assert info.value.error is not None and len(info.value.error.message) <= 1000


def test_the_error_message_bound_follows_max_content_chars() -> None:
    task, provider_id, failed = FAILED_JOBS["replicate"]
    tool = _tool(
        task, [_json(failed)], provider="replicate", provider_id=provider_id, max_content_chars=300
    )
    message = _message(tool, {"prompt": "a cake"}, "sync")
    assert message.status == "error" and len(message.content) <= 300
    assert str(message.content).endswith("[message cut]")


# ------------------------------------------------- 7. no raw exception out of a tool call


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    ("provider", "task", "provider_id", "answers"),
    [
        # wavespeed: "data" that is no object
        ("wavespeed", "text-to-video", "wavespeed-ai/wan-2.1/t2v-480p", [_json({"data": []})]),
        # black-forest-labs: a polling_url that is no string
        ("black-forest-labs", "text-to-image", "flux-dev", [_json({"id": "j", "polling_url": 7})]),
        # fal: a response_url whose path httpx cannot send
        (
            "fal-ai",
            "text-to-video",
            "fal-ai/ltx-video",
            [_json({"request_id": "r", "status": "IN_QUEUE", "response_url": "https://q/a\x00b"})],
        ),
        # the Hub: providerId values no URL can carry
        ("fal-ai", "text-to-image", "fal-ai/fl\x01ux", []),
        ("fal-ai", "text-to-image", "x" * 70_000, []),
    ],
)
def test_hostile_provider_answers_are_error_messages_not_raw_exceptions(
    provider: str, task: str, provider_id: str, answers: list[httpx2.Response], mode: str
) -> None:
    tool = _tool(task, answers, provider=provider, provider_id=provider_id)
    message = _message(tool, {"prompt": "a dog"}, mode)
    assert message.status == "error"
    assert any(
        why in message.content for why in ("could not be read", "cannot send", "not a plain URL")
    )


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_parser_crash_is_a_response_format_error_naming_task_and_model(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from hf_tools.providers import hf_inference

    def crash(body: Any, call: Any) -> Any:
        return body.get("label")  # an AttributeError on a list: a shape the parser missed

    adapter = replace(get_adapter("hf-inference", "text-classification"), parse=crash)
    monkeypatch.setitem(hf_inference._BY_TASK, "text-classification", adapter)
    answers = [_json([{"label": "x", "score": 1}])]
    with pytest.raises(ResponseFormatError) as info:
        if mode == "sync":
            HFClient(api_key=KEY, transport=_transport(None, answers)).run(
                "text-classification", text="hi"
            )
        else:
            client = AsyncHFClient(api_key=KEY, transport=_transport(None, answers))
            asyncio.run(client.run("text-classification", text="hi"))
    assert "could not be read (AttributeError)" in str(info.value)
    assert info.value.task == "text-classification" and info.value.model


# The fuzz: recorded provider bodies, mutated, through every provider flow.

_HOSTILE: list[Any] = [
    None,
    True,
    0,
    -1,
    1e308,
    "",
    "\x00\n\x7f",
    "x" * 70_000,
    "http://[::1",
    "https://q.example/\x00",
    "data:image/png;base64,!!",
    "relative/path",
    [],
    [None],
    {},
    {"a": None},
    [[[[[]]]]],
    "COMPLETED",
    "completed",
    "succeeded",
    "Ready",
    "failed",
]


def _record_of(name: str) -> dict[str, Any]:
    from .test_provider_flow import _record_of as recorded

    return recorded(name)


def _recorded(name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = yaml.safe_load((CASSETTES / name).read_text("utf-8"))[
        "interactions"
    ]
    return [i["response"] for i in found]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:4]):
            yield from _paths(v, (*prefix, i))


_DROP = object()  # as a replacement: the key or item is removed


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        inner = _replaced(value[head], rest, new)
        return {
            k: inner if k == head else v
            for k, v in value.items()
            if k != head or inner is not _DROP
        }
    items = [_replaced(v, rest, new) if i == head else v for i, v in enumerate(value)]
    return [v for v in items if v is not _DROP]


def _mutated_body(raw: bytes, rng: random.Random) -> bytes:
    try:
        data = json.loads(raw)
    except ValueError:  # a result file: cut it, or answer JSON instead
        return rng.choice([raw[: len(raw) // 2], b"", b'{"x": 1}'])
    path = rng.choice(list(_paths(data)))
    new = _DROP if path and rng.random() < 0.2 else rng.choice(_HOSTILE)
    return json.dumps(_replaced(data, path, new)).encode()


def _as_response(recorded: dict[str, Any], body: bytes) -> httpx2.Response:
    headers = {k: v[0] for k, v in recorded["headers"].items() if k.lower() == "content-type"}
    return httpx2.Response(recorded["status"]["code"], content=body, headers=headers)


def _fuzz_cases(name: str, count: int) -> Iterator[tuple[Any, list[httpx2.Response]]]:
    """``count`` mutants of one recording: (the Hub's providerId, the provider's answers)."""
    rng = random.Random(name)  # deterministic, per recording
    record = _record_of(name)
    responses = _recorded(name)
    bodies = [
        r["body"]["string"].encode()
        if isinstance(r["body"]["string"], str)
        else r["body"]["string"]
        for r in responses
    ]
    for _ in range(count):
        provider_id: Any = record["model"]
        mutated = list(bodies)
        target = rng.randrange(len(bodies) + 1)
        if target == len(bodies):
            provider_id = rng.choice(_HOSTILE)
        else:
            mutated[target] = _mutated_body(bodies[target], rng)
        yield provider_id, [_as_response(r, b) for r, b in zip(responses, mutated, strict=True)]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", PROVIDER_CASSETTES)
def test_mutated_recorded_bodies_never_raise_a_raw_exception(
    name: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # media arguments are tests/fixtures files
    record = _record_of(name)
    task, provider = record["task"], record["provider"]
    outcomes: list[str] = []

    def note(message: Any) -> None:
        assert isinstance(message, ToolMessage)
        assert len(str(message.content)) <= 4000
        outcomes.append(str(message.status))

    async def run_async(tools: list[HFTool], call: dict[str, Any]) -> None:
        for tool in tools:
            try:
                note(await tool.ainvoke(call))
            except HFToolsError:  # a developer's error (typed): allowed
                outcomes.append("raised")

    tools = [
        _tool(task, answers, provider=provider, provider_id=pid, model=f"org/m{i}", timeout=5)
        for i, (pid, answers) in enumerate(_fuzz_cases(name, MUTANTS))
    ]
    call = {"type": "tool_call", "id": "c", "name": tools[0].name, "args": record["args"]}
    if mode == "sync":
        for tool in tools:
            try:
                note(tool.invoke(call))
            except HFToolsError:
                outcomes.append("raised")
    else:
        asyncio.run(run_async(tools, call))
    assert len(outcomes) == MUTANTS


# --------------------------------------------------- 10. the key reaches no LLM, any form


def _echo_forms() -> dict[str, str]:
    return {
        "verbatim": KEY,
        "upper-case": KEY.upper(),
        "base64": base64.b64encode(f"Bearer {KEY}".encode()).decode(),
        "base64url at offset 1": base64.urlsafe_b64encode(f"x{KEY}".encode()).decode(),
        "base64 at offset 2": base64.b64encode(f"xy{KEY}".encode()).decode(),
        "url-encoded": quote(KEY, safe=""),
        "newline-split": f"{KEY[:12]}\n{KEY[12:30]}\r\n  {KEY[30:]}",
    }


def _decoded_leaks(text: str) -> list[str]:
    """Pieces of the key visible in ``text``, also once upper-cased or base64-decoded."""
    found = _leaks(text) + _leaks(text.upper(), KEY.upper())
    flat = "".join(text.split())
    for word in flat.replace('"', " ").replace("'", " ").split():
        for offset in range(4):
            chunk = word[offset:]
            chunk = chunk[: len(chunk) // 4 * 4]
            try:
                decoded = base64.b64decode(chunk, altchars=b"-_").decode("latin-1")
            except ValueError:
                continue
            found += _leaks(decoded)
    return found + _leaks(flat)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("form", sorted(_echo_forms()))
def test_a_success_that_echoes_the_key_is_redacted(form: str, mode: str) -> None:
    echoed = f"you sent {_echo_forms()[form]} as your key"
    answers = [_json([[{"label": echoed, "score": 0.9}, {"label": "NEG", "score": 0.1}]])]
    message = _message(_tool("text-classification", answers), {"text": "hi"}, mode)
    assert message.status == "success"
    assert "[redacted]" in message.content
    assert _decoded_leaks(str(message.content)) == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_body_of_unexpected_shape_is_redacted_before_it_is_cut(mode: str) -> None:
    # reprlib keeps both ends of a long string around "...": 34 of 39 characters showed.
    answers = [_json({"unexpected": f"{KEY}{'-' * 30}{KEY}"})]
    message = _message(_tool("text-classification", answers), {"text": "hi"}, mode)
    assert message.status == "error"
    assert "[redacted]" in message.content
    assert _leaks(str(message.content), window=6) == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_result_url_carrying_the_key_is_not_quoted_raw(mode: str) -> None:
    url = f"https://cdn.example/out.png?sig={KEY}&x={'y' * 150}"
    answers = [_json({"id": "p1", "status": "succeeded", "output": [url]})]
    tool = _tool(
        "text-to-image", answers, provider="replicate", provider_id=FAILED_JOBS["replicate"][1]
    )
    message = _message(tool, {"prompt": "a cake"}, mode)
    assert message.status == "error"
    assert "cdn.example" in message.content
    assert _leaks(str(message.content), window=6) == []


@pytest.mark.parametrize("cut", [20, 37])
def test_a_non_json_body_is_redacted_before_its_80_character_cut(cut: int) -> None:
    body = ("x" * (80 - cut) + KEY).encode()  # the cut falls inside the key
    answers = [httpx2.Response(200, content=body, headers={"content-type": "application/json"})]
    message = _message(_tool("text-classification", answers), {"text": "hi"}, "sync")
    assert message.status == "error" and "not JSON" in message.content
    assert _leaks(str(message.content), window=6) == []


# ------------------------------------------------------------- 14. the token file and value


def _token_file(monkeypatch: pytest.MonkeyPatch, path: Path | str) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", str(path))


def test_a_fifo_token_path_is_a_configuration_error_not_a_hang(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fifo = tmp_path / "token"
    os.mkfifo(fifo)
    _token_file(monkeypatch, fifo)
    outcome: list[BaseException | None] = []

    def build() -> None:
        try:
            HuggingFaceToolkit()
            outcome.append(None)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=build, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(10)
    if worker.is_alive():  # the bug: blocked in open(); a writer releases it
        with open(fifo, "w"):
            pass
        worker.join(10)
        pytest.fail("building a toolkit blocked on a FIFO at HF_TOKEN_PATH")
    assert time.monotonic() - started < 5
    assert isinstance(outcome[0], ConfigurationError)
    assert "not a regular file" in str(outcome[0]) and str(fifo) in str(outcome[0])


def test_dev_zero_as_token_file_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _token_file(monkeypatch, "/dev/zero")
    with pytest.raises(ConfigurationError, match="/dev/zero is not a regular file"):
        HuggingFaceToolkit()


def test_a_token_file_larger_than_a_token_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "token"
    path.write_text("hf_" + "a" * 5000)
    _token_file(monkeypatch, path)
    with pytest.raises(ConfigurationError, match="too large to hold a token"):
        HFClient()


MALFORMED = ["hf_abc\ndef123", "hf_abc\x00def123", "hf_abcdéf123", "hf_abc def123", "hf_\x7fabc"]


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        (source, bad)
        for source in ("file", "env", "argument")
        for bad in MALFORMED
        if not (source == "env" and "\x00" in bad)  # no environment variable holds a NUL
    ],
)
def test_a_malformed_token_is_a_configuration_error_naming_its_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bad: str, source: str
) -> None:
    kw: dict[str, Any] = {}
    if source == "file":
        path = tmp_path / "token"
        path.write_bytes(bad.encode() + b"\n")
        _token_file(monkeypatch, path)
        where = str(path)
    elif source == "env":
        monkeypatch.setenv("HF_TOKEN", bad)
        where = "HF_TOKEN"
    else:
        kw["api_key"] = bad
        where = "api_key"
    with pytest.raises(ConfigurationError) as info:
        HuggingFaceToolkit(**kw)
    text = str(info.value)
    assert where in text and "U+" in text
    assert bad.strip() not in text and "abc" not in text  # never the token itself


def test_a_valid_token_file_still_works(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("hf_good_token_123\n")
    _token_file(monkeypatch, path)
    settings = HFClient().settings
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "hf_good_token_123"


# ------------------------------------------------------------ 16. an empty chat stream


def _empty_stream_model() -> HFChatModel:
    from hf_tools.client import LoopPools

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, content=b"data: [DONE]\n\n", headers={"content-type": "text/event-stream"}
        )

    llm = HFChatModel(model="org/chat", api_key="hf_x", streaming=True)
    llm._http = httpx2.Client(transport=httpx2.MockTransport(handler))
    llm._pools = LoopPools(10, transport=httpx2.MockTransport(handler))
    return llm


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
def test_an_empty_chat_stream_is_a_response_format_error(mode: str) -> None:
    llm = _empty_stream_model()

    async def consume() -> list[Any]:
        return [c async for c in llm.astream("hi")]

    with pytest.raises(ResponseFormatError, match="without any message"):
        if mode == "invoke":
            llm.invoke("hi")
        elif mode == "ainvoke":
            asyncio.run(llm.ainvoke("hi"))
        elif mode == "stream":
            list(llm.stream("hi"))
        else:
            asyncio.run(consume())
