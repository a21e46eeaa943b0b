"""Text generation that streams (TGI and OpenAI completions), the core SSE decoder, and the
text-generation fixes: temperature 0, and parameters a transformers model does not use."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx2
import pytest

import hf_tools.http.send
from hf_tools import AsyncHFClient, HFClient, HuggingFaceToolkit
from hf_tools.errors import (
    ConfigurationError,
    HFConnectionError,
    HFTimeoutError,
    InvalidInputError,
    ResponseTooLargeError,
)
from hf_tools.http import HFRequest
from hf_tools.sse import SSEDecoder, SurrogateJoiner
from hf_tools.streaming import TextGenerationReader
from hf_tools.tasks.text_generation import TextGenerationStreamOutput

from .test_hostile_http import Drip, _drip

Cassette = Callable[..., AbstractContextManager[Any]]

LLAMA = "meta-llama/Llama-3.2-3B"
MIXTRAL = "mistralai/Mixtral-8x7B-v0.1"
FLAN_XXL = "google/flan-t5-xxl"
FLAN_LARGE = "google/flan-t5-large"
QUESTION = "Please answer the following question: complete one two and ____."
STORY = "Write a short story about a robot that becomes sentient and takes over the world."


def _collect(mode: str, client_kw: dict[str, Any], **args: Any) -> list[TextGenerationStreamOutput]:
    """Stream text-generation sync or async and collect the chunks."""
    if mode == "sync":
        with HFClient(**client_kw) as client:
            return list(client.stream("text-generation", **args))

    async def run() -> list[TextGenerationStreamOutput]:
        async with AsyncHFClient(**client_kw) as client:
            return [c async for c in client.astream("text-generation", **args)]

    return asyncio.run(run())


MODES = ["sync", "async"]


# ------------------------------------------------------------------------- the decoder


def test_sse_decoder_reads_bytes_split_anywhere_multibyte_characters_included() -> None:
    text = 'data: {"t":"é😀"}\r\n\r\ndata: [DONE]\r\n\r\n'.encode()
    decoder = SSEDecoder()
    events = [e for i in range(len(text)) for e in decoder.feed(text[i : i + 1])]
    assert [*events, *decoder.flush()] == ['{"t":"é😀"}', "[DONE]"]


def test_surrogate_pairs_split_across_events_join_into_one_character() -> None:
    joiner = SurrogateJoiner()
    assert joiner.feed("a\ud83d") == "a"
    assert joiner.feed("\ude00b") == "😀b"
    assert joiner.feed("\ud83d") == "" and joiner.flush() == "\ufffd"  # never a lone half


def test_a_tgi_stream_with_an_emoji_cut_in_two_tokens_yields_text_that_encodes() -> None:
    reader = TextGenerationReader(LLAMA)
    halves = [
        '{"index":1,"token":{"id":1,"text":"\\ud83d","special":false},"generated_text":null}',
        '{"index":2,"token":{"id":2,"text":"\\ude00","special":false},"generated_text":"x",'
        '"details":{"finish_reason":"length"}}',
    ]
    chunks = [c for payload in halves for c in reader.feed(payload)] + reader.close()
    text = "".join(c.text for c in chunks)
    assert text == "😀" and text.encode("utf-8")
    assert chunks[-1].finish_reason == "length"


# ------------------------------------------------------------------ streams, from cassettes


@pytest.mark.parametrize("mode", MODES)
def test_tgi_stream_yields_tokens_then_the_whole_text(
    mode: str, token: str, cassette: Cassette
) -> None:
    with cassette("text-generation-stream/tgi"):
        chunks = _collect(
            mode, {"api_key": token}, prompt=QUESTION, max_new_tokens=50, seed=0, model=LLAMA
        )
    assert len(chunks) == 50
    assert chunks[0].text == " " and chunks[1].text == "1" and chunks[1].token_id == 16
    # TGI's last event carries the whole text (here with the prompt: return_full_text).
    last = chunks[-1]
    assert last.generated_text == QUESTION + "".join(c.text for c in chunks)
    assert all(c.generated_text is None for c in chunks[:-1])


@pytest.mark.parametrize("mode", MODES)
def test_an_error_event_in_a_tgi_stream_is_the_typed_error(
    mode: str, token: str, cassette: Cassette
) -> None:
    with cassette("text-generation-stream/tgi-error"), pytest.raises(InvalidInputError) as info:
        _collect(mode, {"api_key": token}, prompt=STORY, max_new_tokens=10000, model=LLAMA)
    assert "must be <= 4096" in str(info.value)
    assert info.value.task == "text-generation" and info.value.model == LLAMA


@pytest.mark.parametrize("mode", MODES)
def test_a_providers_completion_stream_at_temperature_zero(
    mode: str, token: str, cassette: Cassette
) -> None:
    client = {"api_key": token, "provider": "together"}
    with cassette("text-generation-stream/together"):
        chunks = _collect(
            mode, client, prompt="Paris is", max_new_tokens=10, temperature=0, model=MIXTRAL
        )
    assert "".join(c.text for c in chunks) == " a city of love, and it\u2019s also"
    assert chunks[-1].finish_reason == "length"


# ------------------------------------------------------ limits and failures (loopback-free)


def _sse_client(body: bytes, **kw: Any) -> dict[str, Any]:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    transport = httpx2.MockTransport(answer)
    return {"api_key": "hf_x", "base_url": "https://example.test/tgi", **kw, "transport": transport}


_TOKENS = b"".join(
    b'data: {"index":%d,"token":{"id":1,"text":"ab","special":false},"generated_text":null}\n\n' % i
    for i in range(1, 40)
)


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_cut_before_its_last_token_is_a_connection_error(mode: str) -> None:
    with pytest.raises(HFConnectionError, match="ended before the model finished"):
        _collect(mode, _sse_client(_TOKENS), prompt="hi")


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_is_read_within_the_body_cap(mode: str) -> None:
    with pytest.raises(ResponseTooLargeError):
        _collect(mode, _sse_client(_TOKENS, max_json_bytes=1000), prompt="hi")


def test_only_text_generation_streams() -> None:
    with pytest.raises(ConfigurationError, match="does not stream"):
        list(HFClient(api_key="hf_x").stream("summarization", text="a long text"))


# ------------------------------------------------------------ temperature 0, unused kwargs


def test_temperature_zero_is_greedy_decoding_on_tgi(
    token: str, cassette: Cassette, sent: list[HFRequest]
) -> None:
    # TGI refuses temperature 0 ("must be strictly positive"): greedy is do_sample false.
    with cassette("text-generation/success"), HFClient(api_key=token) as client:
        client.run(
            "text-generation", model=FLAN_XXL, prompt="test", max_new_tokens=1, temperature=0
        )
    assert json.loads(sent[0].content)["parameters"] == {"max_new_tokens": 1, "do_sample": False}


FLAN_ARGS = {
    "prompt": "How are you today?",
    "max_new_tokens": 20,
    "do_sample": False,
    "return_full_text": True,
    "stop": ["\n"],
    "details": True,
}


@pytest.mark.parametrize("mode", MODES)
def test_parameters_the_model_does_not_use_are_dropped_once_and_reported(
    mode: str, token: str, cassette: Cassette, sent: list[HFRequest]
) -> None:
    with cassette("text-generation/unused-model-kwargs"):
        if mode == "sync":
            out = HFClient(api_key=token).run(
                "text-generation", model="google/flan-t5-large", **FLAN_ARGS
            )
        else:
            out = asyncio.run(
                AsyncHFClient(api_key=token).run(
                    "text-generation", model="google/flan-t5-large", **FLAN_ARGS
                )
            )
    assert out.generated_text == "I am at work"
    assert out.dropped_parameters == ["return_full_text", "stop", "details"]
    assert json.loads(sent[-1].content)["parameters"] == {"max_new_tokens": 20, "do_sample": False}


def test_a_second_refusal_is_not_retried_again() -> None:
    refusal = (
        b'{"error":"The following `model_kwargs` are not used by the model: [\'stop\'] (note: '
        b'typos in the generate arguments will also show up in this list)"}'
    )
    calls: list[bytes] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        calls.append(request.content)
        return httpx2.Response(400, content=refusal, headers={"content-type": "application/json"})

    client = HFClient(
        api_key="hf_x", base_url="https://example.test/x", transport=httpx2.MockTransport(answer)
    )
    with pytest.raises(InvalidInputError, match="model_kwargs"):
        client.run("text-generation", prompt="hi", stop=["\n"])
    assert len(calls) == 2 and b"stop" not in calls[1]


@pytest.fixture
def real_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hf_tools.http.send, "_sleep", time.sleep)
    monkeypatch.setattr(hf_tools.http.send, "_asleep", asyncio.sleep)


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
@pytest.mark.usefixtures("real_sleeps")
async def test_a_dripping_text_stream_ends_at_the_deadline() -> None:
    event = b'data: {"index":1,"token":{"id":1,"text":"a","special":false}}\n\n'
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"
    server = Drip(_drip(head, event * 200, every=0.002))  # an event every ~0.13 s
    kw: dict[str, Any] = {
        "api_key": "hf_t",
        "base_url": server.url,
        "is_custom_endpoint": True,
        "timeout": 1,
        "max_retries": 2,
    }
    sync, aio = HFClient(**kw), AsyncHFClient(**kw)
    try:
        started = time.monotonic()
        with pytest.raises(HFTimeoutError):
            list(sync.stream("text-generation", prompt="hi"))
        with pytest.raises(HFTimeoutError):
            [c async for c in aio.astream("text-generation", prompt="hi")]
        assert time.monotonic() - started < 4.0  # two calls of 1 s; each would run ~25 s
    finally:
        sync.close()
        await aio.aclose()
        server.close()


def test_the_tool_says_which_parameters_were_dropped(token: str, cassette: Cassette) -> None:
    tool = HuggingFaceToolkit(
        api_key=token, tasks=["text-generation"], models={"text-generation": FLAN_LARGE}
    ).get_tool("text_generation")
    with cassette("text-generation/unused-model-kwargs"):
        message = tool.invoke(
            {"type": "tool_call", "id": "c", "name": tool.name, "args": FLAN_ARGS}
        )
    assert message.artifact.dropped_parameters == ["return_full_text", "stop", "details"]
    assert "dropped: return_full_text, stop, details" in message.content


@pytest.mark.parametrize("mode", MODES)
def test_an_error_status_before_the_stream_is_the_typed_error(mode: str) -> None:
    body = (
        b'{"error":"Input validation error: `max_new_tokens` must be <= 4096",'
        b'"error_type":"validation"}'
    )

    def answer(request: httpx2.Request) -> httpx2.Response:
        assert json.loads(request.content)["stream"] is True
        assert request.headers["accept"] == "text/event-stream"
        return httpx2.Response(422, content=body, headers={"content-type": "application/json"})

    client: dict[str, Any] = {"api_key": "hf_x", "base_url": "https://example.test/tgi"}
    client["transport"] = httpx2.MockTransport(answer)
    with pytest.raises(InvalidInputError, match="must be <= 4096"):
        _collect(mode, client, prompt="hi", max_new_tokens=5000)
