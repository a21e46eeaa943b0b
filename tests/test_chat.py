"""HFChatModel: request building, response parsing, tools, invoke and stream from cassettes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import tool
from pydantic import BaseModel

from hf_tools import (
    AuthenticationError,
    ConfigurationError,
    HFChatModel,
    HFConnectionError,
    InvalidInputError,
    ServerError,
)
from hf_tools.langchain.chat import chat_url, message_to_dict, parse_completion, parse_tool_call
from hf_tools.testing import CHAT_MATCH_ON, DUMMY_TOKEN
from tests._chat_data import (
    ANIMALS,
    DEEP,
    MODEL,
    WEATHER,
    WEATHER_TOOLS,
    Trip,
)
from tests._chat_data import get_current_weather as GetWeather

TGI = "https://tgi.endpoints.huggingface.cloud"


def _llm(**kw: Any) -> HFChatModel:
    kw.setdefault("model", MODEL)
    return HFChatModel(api_key=DUMMY_TOKEN, **kw)


def _body(llm: Any, messages: Any = DEEP, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(llm.build_request(messages, **kw).content)
    return data


@tool
def get_current_weather(location: str, format: str) -> str:
    """Get the current weather.

    Args:
        location: The city and state, e.g. San Francisco, CA
        format: celsius or fahrenheit.
    """
    return f"22 {format} in {location}"


# ------------------------------------------------------------------------- request building


def test_payload_has_model_first_and_only_set_params() -> None:
    body = _body(_llm())
    assert list(body) == ["model", "messages"]
    assert body["model"] == MODEL
    body = _body(_llm(temperature=0.2, max_tokens=5, top_p=0.9, seed=1, stop=["\n"]))
    assert body["temperature"] == 0.2 and body["max_tokens"] == 5 and body["seed"] == 1
    assert body["top_p"] == 0.9 and body["stop"] == ["\n"]


def test_call_time_params_and_model_kwargs_override_defaults() -> None:
    llm = _llm(temperature=0.2, model_kwargs={"frequency_penalty": 0.5})
    body = _body(llm, stop=["END"], temperature=0.9)
    assert body["temperature"] == 0.9 and body["stop"] == ["END"]
    assert body["frequency_penalty"] == 0.5


def test_urls_router_and_endpoints() -> None:
    assert _llm().url == "https://router.huggingface.co/v1/chat/completions"
    assert chat_url("https://router.huggingface.co/v1/") == (
        "https://router.huggingface.co/v1/chat/completions"
    )
    assert chat_url("x", TGI) == f"{TGI}/v1/chat/completions"
    assert chat_url("x", TGI + "/v1") == f"{TGI}/v1/chat/completions"
    assert chat_url("x", TGI + "/v1/chat/completions") == f"{TGI}/v1/chat/completions"
    assert chat_url("x", TGI + "/?a=1") == f"{TGI}/v1/chat/completions?a=1"


def test_endpoint_sends_model_tgi_unless_given() -> None:
    assert _body(_llm(model=None, endpoint_url=TGI))["model"] == "tgi"
    assert _body(_llm(endpoint_url=TGI))["model"] == MODEL


def test_needs_a_model_or_an_endpoint() -> None:
    with pytest.raises(ConfigurationError):
        HFChatModel(api_key=DUMMY_TOKEN)


def test_auth_header_and_env_token_only_to_hf_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    headers = _llm().build_request(DEEP).headers
    assert headers["authorization"] == f"Bearer {DUMMY_TOKEN}"
    monkeypatch.setenv("HF_TOKEN", "hf_env")
    env = HFChatModel(model=MODEL)
    assert env.build_request(DEEP).headers["authorization"] == "Bearer hf_env"
    local = HFChatModel(endpoint_url="http://127.0.0.1:8080")
    assert "authorization" not in local.build_request(DEEP).headers


def test_message_conversion_every_role() -> None:
    ai = AIMessage("", tool_calls=[{"name": "f", "args": {"a": 1}, "id": "c1"}])
    assert message_to_dict(SystemMessage("s")) == {"role": "system", "content": "s"}
    assert message_to_dict(HumanMessage("h")) == {"role": "user", "content": "h"}
    assert message_to_dict(ai) == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
        ],
    }
    assert message_to_dict(ToolMessage("22C", tool_call_id="c1")) == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": "22C",
    }


def test_multimodal_user_content_passes_through() -> None:
    parts = [
        "Describe",
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    assert message_to_dict(HumanMessage(content=parts))["content"] == [
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]


def test_standard_image_blocks_become_image_url_parts() -> None:
    blocks = [
        {"type": "image", "url": "https://example.com/a.png"},
        {"type": "image", "base64": "iVBORw0=", "mime_type": "image/png"},
        {"type": "image", "source_type": "base64", "data": "/9j/", "mime_type": "image/jpeg"},
    ]
    parts = message_to_dict(HumanMessage(content=blocks))["content"]  # type: ignore[arg-type]
    assert [p["image_url"]["url"] for p in parts] == [
        "https://example.com/a.png",
        "data:image/png;base64,iVBORw0=",
        "data:image/jpeg;base64,/9j/",
    ]


def test_identifying_and_tracing_params_name_the_model_not_the_key() -> None:
    llm = _llm(temperature=0.5, max_tokens=9, stop=["x"])
    assert llm._identifying_params["model"] == MODEL
    assert llm._llm_type == "huggingface-chat"
    ls = llm._get_ls_params()
    assert ls["ls_provider"] == "huggingface" and ls["ls_model_name"] == MODEL
    assert (ls["ls_temperature"], ls["ls_max_tokens"], ls["ls_stop"]) == (0.5, 9, ["x"])
    assert _llm(model=None, endpoint_url=TGI)._get_ls_params()["ls_model_name"] == "tgi"


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("any", "required"),
        ("get_current_weather", {"type": "function", "function": {"name": "get_current_weather"}}),
        (True, {"type": "function", "function": {"name": "get_current_weather"}}),
    ],
)
def test_bind_tools_and_tool_choice(choice: Any, wire: Any) -> None:
    bound = _llm().bind_tools([get_current_weather], tool_choice=choice)
    kwargs = bound.kwargs  # type: ignore[attr-defined]
    assert kwargs["tool_choice"] == wire
    assert kwargs["tools"][0]["function"]["name"] == "get_current_weather"
    body = _body(_llm(), **kwargs)
    assert body["tools"][0]["function"]["parameters"]["required"] == ["location", "format"]


def test_bind_tools_refuses_unknown_names_and_ambiguous_true() -> None:
    class Other(BaseModel):
        """Another tool."""

        x: int

    with pytest.raises(ValueError, match="not one of the bound tools"):
        _llm().bind_tools([get_current_weather], tool_choice="nope")
    with pytest.raises(ValueError, match="exactly one tool"):
        _llm().bind_tools([get_current_weather, Other], tool_choice=True)
    assert "tool_choice" not in _llm().bind_tools([Other]).kwargs  # type: ignore[attr-defined]


# -------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("raw", "args", "call_id"),
    [
        ({"id": 0, "function": {"name": "f", "arguments": {"a": 1}}}, {"a": 1}, "0"),
        ({"id": "c", "function": {"name": "f", "arguments": '{"a": 1}'}}, {"a": 1}, "c"),
        ({"id": 7, "function": {"name": "f", "arguments": ""}}, {}, "7"),
        ({"id": "c", "function": {"name": "f", "arguments": None}}, {}, "c"),
    ],
)
def test_tool_call_shapes(raw: dict[str, Any], args: dict[str, Any], call_id: str) -> None:
    call = parse_tool_call(raw)
    assert call["type"] == "tool_call"
    assert call["args"] == args and call["id"] == call_id and call["name"] == "f"


def test_tool_call_without_id_gets_one_and_bad_json_is_invalid() -> None:
    call = parse_tool_call({"function": {"name": "f", "arguments": "{}"}})
    assert call["id"] and call["id"].startswith("call_")
    bad = parse_tool_call({"id": "c", "function": {"name": "f", "arguments": "{oops"}})
    assert bad["type"] == "invalid_tool_call" and bad["args"] == "{oops"
    listed = parse_tool_call({"id": "c", "function": {"name": "f", "arguments": "[1]"}})
    assert listed["type"] == "invalid_tool_call"


def test_parse_completion_null_content_invalid_calls_and_usage() -> None:
    data = {
        "id": "x",
        "model": "m",
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": 1, "function": {"name": "f", "arguments": {"a": 1}}},
                        {"id": 2, "function": {"name": "g", "arguments": "nope"}},
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }
    msg = parse_completion(data).generations[0].message
    assert isinstance(msg, AIMessage)
    assert msg.content == ""
    assert [c["id"] for c in msg.tool_calls] == ["1"]
    assert [c["name"] for c in msg.invalid_tool_calls] == ["g"]
    assert msg.usage_metadata == {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}
    assert msg.response_metadata["finish_reason"] == "tool_calls"


# ------------------------------------------------------------------------ invoke (cassettes)


def test_invoke_from_recording(cassette: Any) -> None:
    with cassette("chat-completion/no-stream"):
        msg = _llm().invoke(DEEP)
    assert isinstance(msg, AIMessage)
    assert str(msg.content).startswith("Deep learning is a subfield of artificial intelligence")
    assert msg.usage_metadata is not None and msg.usage_metadata["total_tokens"] > 0
    assert msg.response_metadata["model_name"] == MODEL
    assert msg.response_metadata["finish_reason"] == "stop"


async def test_ainvoke_from_recording(cassette: Any) -> None:
    llm = _llm(model="meta-llama/Meta-Llama-3-8B-Instruct:together")
    with cassette("chat-completion/no-stream-together"):
        msg = await llm.ainvoke(DEEP)
    assert str(msg.content).startswith("Deep learning is a subfield of machine learning")
    assert msg.tool_calls == []  # together sends "tool_calls": []
    assert msg.usage_metadata == {"input_tokens": 26, "output_tokens": 597, "total_tokens": 623}
    await llm.aclose()


def test_tgi_tool_calls_with_object_arguments_and_int_ids(cassette: Any) -> None:
    llm = _llm(model=None, endpoint_url=TGI, max_tokens=500)
    with cassette("chat-completion/tool-call-tgi"):
        auto = llm.bind_tools(WEATHER_TOOLS, tool_choice="auto").invoke(WEATHER)
        forced = llm.bind_tools(WEATHER_TOOLS, tool_choice="get_current_weather").invoke(WEATHER)
    assert isinstance(auto, AIMessage) and isinstance(forced, AIMessage)
    assert auto.tool_calls == [
        {
            "name": "get_n_day_weather_forecast",
            "args": {"format": "fahrenheit", "location": "San Francisco, CA", "num_days": 3},
            "id": "0",
            "type": "tool_call",
        }
    ]
    assert forced.tool_calls[0]["name"] == "get_current_weather"
    assert auto.content == ""


def test_endpoint_sends_model_tgi_from_recording(cassette: Any) -> None:
    llm = _llm(model=None, endpoint_url=TGI, max_tokens=20, temperature=1.0)
    with cassette("chat-completion/endpoint-tgi"):
        msg = llm.invoke(DEEP)
    assert msg.response_metadata["finish_reason"] == "length"


@pytest.mark.parametrize(
    ("scenario", "model", "error", "status", "text"),
    [
        ("401", "meta-llama/Meta-Llama-3-70B-Instruct", AuthenticationError, 401, "Invalid"),
        ("422-plain-text", "meta-llama/Meta-Llama-3-70B-Instruct", InvalidInputError, 422, "JSON"),
        ("500-non-tgi", "microsoft/DialoGPT-small", ServerError, 500, "unknown error"),
    ],
)
def test_errors_are_typed(
    cassette: Any, scenario: str, model: str, error: type[Exception], status: int, text: str
) -> None:
    kw: dict[str, Any] = {"max_tokens": 200} if scenario == "422-plain-text" else {}
    if scenario == "500-non-tgi":
        kw = {"max_tokens": 20}
    with cassette(f"chat-completion/{scenario}"), pytest.raises(error) as info:
        _llm(model=model, **kw).invoke(DEEP)
    assert getattr(info.value, "status_code", None) == status
    assert text in str(info.value)
    assert DUMMY_TOKEN not in str(info.value)


# ------------------------------------------------------------------------------- streaming


def _recorded_stream_text(name: str) -> str:
    import yaml

    from tests.conftest import CASSETTES

    data = yaml.safe_load((CASSETTES / f"chat-completion/{name}.yaml").read_text())
    text = data["interactions"][0]["response"]["body"]["string"]
    parts = []
    for line in text.splitlines():
        if line.startswith("data: {"):
            choice = json.loads(line[6:])["choices"][0]
            parts.append(choice["delta"].get("content") or "")
    return "".join(parts)


def test_stream_chunks_concatenate_to_the_recorded_text(cassette: Any) -> None:
    with cassette("chat-completion/stream"):
        chunks = list(_llm(max_tokens=20).stream(DEEP))
    assert len(chunks) > 10
    text = "".join(str(c.content) for c in chunks)
    assert text == _recorded_stream_text("stream")
    assert text.startswith("Deep learning is")
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert total.response_metadata["finish_reason"] == "length"


async def test_astream_with_usage_in_the_last_chunk(cassette: Any) -> None:
    llm = _llm(model="meta-llama/Meta-Llama-3-8B-Instruct:together", max_tokens=20)
    with cassette("chat-completion/stream-together-usage"):
        chunks = [c async for c in llm.astream(DEEP, stream_usage=True)]
    text = "".join(str(c.content) for c in chunks)
    assert text == _recorded_stream_text("stream-together-usage")
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage == [{"input_tokens": 26, "output_tokens": 20, "total_tokens": 46}]
    await llm.aclose()


def test_stream_usage_field_sends_stream_options() -> None:
    body = _body(_llm(stream_usage=True), stream=True)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "stream_options" not in _body(_llm(), stream=True)


def test_streamed_tool_call_assembles(cassette: Any) -> None:
    llm = _llm().bind_tools(WEATHER_TOOLS[:1], tool_choice="required")
    with cassette("chat-completion/stream-tool-call"):
        chunks = list(llm.stream(WEATHER))
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert isinstance(total, AIMessageChunk)
    assert total.tool_calls == [
        {
            "name": "get_current_weather",
            "args": {"location": "San Francisco, CA", "format": "celsius"},
            "id": "call_0",
            "type": "tool_call",
        }
    ]
    assert total.usage_metadata is not None and total.usage_metadata["total_tokens"] == 232


async def test_streamed_tool_call_assembles_async(cassette: Any) -> None:
    llm = _llm().bind_tools(WEATHER_TOOLS[:1], tool_choice="required")
    with cassette("chat-completion/stream-tool-call"):
        chunks = [c async for c in llm.astream(WEATHER)]
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert isinstance(total, AIMessageChunk)
    assert total.tool_calls[0]["args"] == {"location": "San Francisco, CA", "format": "celsius"}


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_in_stream_error_is_raised_typed(cassette: Any, mode: str) -> None:
    llm = _llm(max_tokens=10000)
    with cassette("chat-completion/stream-error"), pytest.raises(InvalidInputError) as info:
        if mode == "sync":
            list(llm.stream(DEEP))
        else:
            [c async for c in llm.astream(DEEP)]
    assert "must be <= 4096" in str(info.value)


# ------------------------------------------------------------------------- SSE decoding


def _decode(chunks: list[bytes]) -> list[str]:
    from hf_tools.langchain.chat import SSEDecoder

    decoder = SSEDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    return events + decoder.flush()


STREAM = (
    b": keep-alive comment\n"
    b"event: message\n"
    b'data: {"a": "\xc3\xa9t\xc3\xa9"}\n\n'
    b'data:{"b":2}\r\n\r\n'
    b"id: 3\n"
    b'data: {"multi":\n'
    b'data: "line"}\n\n'
    b"data: [DONE]\r\r"
)
EXPECTED = ['{"a": "été"}', '{"b":2}', '{"multi":\n"line"}', "[DONE]"]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 10_000])
def test_sse_decoder_any_chunking(size: int) -> None:
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert _decode(chunks) == EXPECTED


def test_sse_decoder_crlf_split_between_chunks_and_no_final_blank_line() -> None:
    assert _decode([b"data: x\r", b"\n\r", b"\ndata: y"]) == ["x", "y"]
    assert _decode([b"data: x\r", b"\r"]) == ["x"]  # CR line endings, split
    assert _decode([b"\n\n: only comments\n\n"]) == []


def test_assembler_tolerates_several_objects_in_one_event_and_flags_cuts() -> None:
    from hf_tools.langchain.chat import StreamAssembler

    assembler = StreamAssembler("m")
    delta = '{"choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":null}]}'
    chunks = assembler.feed(delta % "a" + "\n" + delta % "b")
    assert [c.text for c in chunks] == ["a", "b"]
    with pytest.raises(HFConnectionError, match="stream ended before"):
        assembler.close()
    assembler.feed("[DONE]")
    assembler.close()
    assert assembler.feed(delta % "late") == []


# ----------------------------------------------------------------------- structured output


def test_structured_output_function_calling_returns_the_pydantic_object(cassette: Any) -> None:
    llm = _llm(model=None, endpoint_url=TGI, max_tokens=500)
    with cassette("chat-completion/structured-function-calling"):
        out = llm.with_structured_output(GetWeather).invoke(WEATHER)
    assert out == GetWeather(location="San Francisco, CA", format="fahrenheit")


async def test_structured_output_json_schema_returns_the_pydantic_object(cassette: Any) -> None:
    llm = _llm(model="meta-llama/Meta-Llama-3-70B-Instruct", max_tokens=500)
    with cassette("chat-completion/response-format"):
        out = await llm.with_structured_output(Trip, method="json_schema").ainvoke(ANIMALS)
    assert out == Trip(
        location="park", activity="bike ride", animals_seen=3, animals=["puppy", "cat", "raccoon"]
    )
    await llm.aclose()


def test_structured_output_include_raw_and_dict_schemas(cassette: Any) -> None:
    llm = _llm(model=None, endpoint_url=TGI, max_tokens=500)
    with cassette("chat-completion/structured-function-calling"):
        out: Any = llm.with_structured_output(GetWeather, include_raw=True).invoke(WEATHER)
    assert isinstance(out["raw"], AIMessage) and out["parsing_error"] is None
    assert out["parsed"].format == "fahrenheit"
    dict_chain: Any = _llm().with_structured_output(WEATHER_TOOLS[1], method="json_mode")
    assert dict_chain.first.kwargs["response_format"] == {"type": "json_object"}
    with pytest.raises(ValueError, match="method must be"):
        _llm().with_structured_output(Trip, method="xml")  # type: ignore[arg-type]


def test_the_chat_snippet_runs(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from tests.conftest import ROOT

    langchain_page = (ROOT / "docs" / "langchain.md").read_text(encoding="utf-8")
    section = langchain_page[langchain_page.index("## Chat model") :]
    code = section[section.index("```python") + 9 : section.index("```\n", 10)]
    monkeypatch.chdir(ROOT)  # use_cassette reads ./cassettes
    exec(compile(code, "docs/langchain.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "Deep learning is a subfield of 625"


def test_tgi2_streamed_tool_call_object_and_object_arguments() -> None:
    from hf_tools.langchain.chat import StreamAssembler

    assembler = StreamAssembler("tgi")
    events = [
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": {
                            "index": 0,
                            "id": "",
                            "function": {"name": "f", "arguments": '{"a": '},
                        }
                    },
                    "finish_reason": None,
                }
            ]
        },
        {
            "choices": [
                {
                    "delta": {"tool_calls": {"index": 0, "function": {"arguments": "1}"}}},
                    "finish_reason": None,
                }
            ]
        },
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {"index": 1, "id": 5, "function": {"name": "g", "arguments": {"b": 2}}}
                        ]
                    },
                    "finish_reason": "tool_calls",
                }
            ]
        },
    ]
    chunks = [c for e in events for c in assembler.feed(json.dumps(e))]
    total = chunks[0].message
    for chunk in chunks[1:]:
        total += chunk.message
    assert isinstance(total, AIMessageChunk)
    assert [(c["name"], c["args"]) for c in total.tool_calls] == [("f", {"a": 1}), ("g", {"b": 2})]
    assert total.tool_calls[1]["id"] == "5"
    assembler.close()  # a finish_reason ends the stream even without [DONE] (older TGI)


def test_async_pools_are_per_event_loop(cassette: Any) -> None:
    import asyncio

    llm = _llm()
    pools = []

    async def call() -> None:
        await llm.ainvoke(DEEP)
        pools.append(llm.ahttp)
        await llm.aclose()

    with cassette("chat-completion/no-stream", allow_playback_repeats=True):
        asyncio.run(call())
        asyncio.run(call())
    assert pools[0] is not pools[1]


def test_agent_round_trip_with_one_of_our_tools(cassette: Any) -> None:
    from langchain_core.messages import BaseMessage

    from hf_tools import HuggingFaceToolkit
    from tests._chat_data import AGENT_ANSWER, AGENT_ASK

    tool = HuggingFaceToolkit(api_key=DUMMY_TOKEN, tasks=["text-classification"]).get_tool(
        "text_classification"
    )
    llm = _llm().bind_tools([tool], tool_choice="auto")
    messages: list[BaseMessage] = list(AGENT_ASK)
    # Matched on messages and tool names: the recording predates the nullable schemas.
    with cassette("chat-completion/agent-round-trip", match_on=CHAT_MATCH_ON):
        ask = llm.invoke(messages)
        assert isinstance(ask, AIMessage) and ask.tool_calls[0]["name"] == tool.name
        messages += [ask, tool.invoke(ask.tool_calls[0])]
        final = llm.invoke(messages)
    assert final.content == AGENT_ANSWER
    assert isinstance(messages[-1], ToolMessage)
    assert str(messages[-1].content).startswith("POSITIVE")


def test_streaming_true_makes_invoke_stream(cassette: Any) -> None:
    # LangChain's convention: with streaming=True, invoke streams and adds the chunks up.
    with cassette("chat-completion/stream"):  # the recorded request says "stream": true
        message = _llm(max_tokens=20, streaming=True).invoke(DEEP)
    assert message.content == _recorded_stream_text("stream")
    assert message.response_metadata["finish_reason"] == "length"


# ------------------------------------------------------ server quirks (in-process transport)


def _served(responder: Any, sent: list[dict[str, Any]], **kw: Any) -> HFChatModel:
    """A model whose requests go to ``responder(body)`` in process (sync and async)."""
    import httpx2

    from hf_tools.client import LoopPools

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        response: httpx2.Response = responder(sent[-1])
        return response

    llm = _llm(**kw)
    llm._http = httpx2.Client(transport=httpx2.MockTransport(handler))
    llm._pools = LoopPools(10, transport=httpx2.MockTransport(handler))
    return llm


def _sse(*events: Any) -> Any:
    import httpx2

    text = "".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events)
    return httpx2.Response(
        200, content=text.encode(), headers={"content-type": "text/event-stream"}
    )


def _delta(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "",
        "model": "tgi",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def _tgi_call_then_answer(body: dict[str, Any]) -> Any:
    # TGI streams tool calls with "id": "" (and repeats the empty id in every delta).
    if not any(m["role"] == "tool" for m in body["messages"]):
        part = {"index": 0, "id": "", "type": "function"}
        return _sse(
            _delta(
                {"tool_calls": [{**part, "function": {"name": "echo", "arguments": '{"text":'}}]}
            ),
            _delta({"tool_calls": [{**part, "function": {"name": None, "arguments": ' "hi"}'}}]}),
            _delta({}, "tool_calls"),
            "[DONE]",
        )
    return _sse(_delta({"content": "ok"}, "stop"), "[DONE]")


@tool
def echo(text: str) -> str:
    """Echo the text."""
    return text


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_streamed_calls_without_ids_get_one_id_everywhere(mode: str) -> None:
    from hf_tools.langchain.agent import Agent

    ids = []
    for _ in range(2):  # the same run twice: the same ids, so recorded bodies still match
        sent: list[dict[str, Any]] = []
        agent = Agent(_served(_tgi_call_then_answer, sent), [echo])
        if mode == "sync":
            result = list(agent.stream_events("go"))[-1].result  # type: ignore[union-attr]
        else:
            result = [e async for e in agent.astream_events("go")][-1].result  # type: ignore[union-attr]
        ai, tool_message = result.messages[1:3]
        assert isinstance(ai, AIMessage) and isinstance(tool_message, ToolMessage)
        call_id = ai.tool_calls[0]["id"]
        assert call_id and call_id.startswith("call_")
        assert tool_message.tool_call_id == call_id
        wire_ai, wire_tool = sent[1]["messages"][1:3]
        assert wire_ai["tool_calls"][0]["id"] == call_id == wire_tool["tool_call_id"]
        ids.append(call_id)
    assert ids[0] == ids[1]


def test_assembler_takes_a_repeated_name_once_and_the_last_usage_once() -> None:
    from hf_tools.langchain.chat import StreamAssembler

    assembler = StreamAssembler("m", seed=b"s")
    part = {"index": 0, "id": "call_1", "type": "function"}
    usage = {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}
    events = [
        _delta(
            {"tool_calls": [{**part, "function": {"name": "echo", "arguments": '{"te'}}]},
            usage=usage,
        ),
        _delta({"tool_calls": [{**part, "function": {"name": "echo", "arguments": 'xt":"hi"}'}}]}),
        _delta({}, "tool_calls", usage={**usage, "completion_tokens": 2, "total_tokens": 12}),
    ]
    chunks = [c for e in events for c in assembler.feed(json.dumps(e))]
    chunks += assembler.close()
    total = chunks[0].message
    for chunk in chunks[1:]:
        total += chunk.message
    assert isinstance(total, AIMessageChunk)
    assert total.tool_calls == [
        {"name": "echo", "args": {"text": "hi"}, "id": "call_1", "type": "tool_call"}
    ]
    assert total.usage_metadata == {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}
    assert [c.message.usage_metadata is not None for c in chunks].count(True) == 1


def test_assembler_ids_for_calls_without_one_are_stable_per_seed_and_distinct() -> None:
    from hf_tools.langchain.chat import StreamAssembler

    def ids(seed: bytes) -> list[str | None]:
        assembler = StreamAssembler("tgi", seed=seed)
        calls = [
            {"index": i, "id": "", "function": {"name": "f", "arguments": "{}"}} for i in (0, 1)
        ]
        chunks = assembler.feed(json.dumps(_delta({"tool_calls": calls}, "tool_calls")))
        return [c["id"] for c in chunks[0].message.tool_call_chunks]  # type: ignore[attr-defined]

    first = ids(b"request one")
    assert first == ids(b"request one") and first[0] != first[1]
    assert first != ids(b"request two")  # a later turn's calls get other ids


def test_error_null_in_a_stream_or_a_body_is_not_an_error() -> None:
    sent: list[dict[str, Any]] = []
    llm = _served(
        lambda _: _sse({**_delta({"content": "hi"}), "error": None}, _delta({}, "stop"), "[DONE]"),
        sent,
    )
    assert "".join(str(c.content) for c in llm.stream("x")) == "hi"
    body = {"error": None, "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}
    assert parse_completion(body).generations[0].message.content == "hi"


def test_assistant_messages_send_only_their_text_blocks() -> None:
    content: list[str | dict[str, Any]] = [
        {"type": "reasoning", "reasoning": "think"},
        {"type": "text", "text": "Let me echo."},
        {"type": "tool_call", "id": "c1", "name": "echo", "args": {"text": "hi"}},
        {"type": "tool_use", "id": "c1", "name": "echo", "input": {"text": "hi"}},
    ]
    ai = AIMessage(content, tool_calls=[{"name": "echo", "args": {"text": "hi"}, "id": "c1"}])
    wire = message_to_dict(ai)
    assert wire["content"] == "Let me echo."
    assert [c["id"] for c in wire["tool_calls"]] == ["c1"]


def test_strict_goes_into_every_function_not_the_body() -> None:
    given = {"type": "function", "function": {"name": "g", "parameters": {"type": "object"}}}
    bound: Any = _llm().bind_tools([get_current_weather, given], strict=True)
    body = _body(_llm(), **bound.kwargs)
    assert "strict" not in body
    assert [t["function"]["strict"] for t in body["tools"]] == [True, True]
    assert "strict" not in given["function"]  # the caller's dict is left alone
    chain: Any = _llm().with_structured_output(GetWeather, strict=True)
    assert chain.first.kwargs["tools"][0]["function"]["strict"] is True


def test_no_tools_sends_neither_tools_nor_tool_choice() -> None:
    body = _body(_llm(), tools=[], tool_choice="auto")
    assert "tools" not in body and "tool_choice" not in body


def test_n_above_one_is_refused_not_dropped() -> None:
    assert _body(_llm(), n=1)["n"] == 1
    with pytest.raises(ValueError, match="n=2 is not supported"):
        _body(_llm(), n=2)


def test_assembler_keeps_calls_apart_when_a_server_reuses_an_index() -> None:
    from hf_tools.langchain.chat import StreamAssembler

    assembler = StreamAssembler("m")
    events = [
        _delta(
            {
                "tool_calls": [
                    {"index": 0, "id": f"c{i}", "function": {"name": "f", "arguments": "{}"}}
                ]
            }
        )
        for i in (1, 2)
    ]
    chunks = [c for e in events for c in assembler.feed(json.dumps(e))]
    total = chunks[0].message + chunks[1].message
    assert [(c["name"], c["id"]) for c in total.tool_calls] == [("f", "c1"), ("f", "c2")]  # type: ignore[attr-defined]
