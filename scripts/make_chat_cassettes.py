"""Write cassettes/chat-completion/*.yaml from the real recordings (re-runnable).

Each response body is copied from a recording in ../shared/reference/hf-recordings; each
request is rebuilt by HFChatModel itself, so the cassettes match what we send today:

    python scripts/make_chat_cassettes.py [--recordings ../shared/reference/hf-recordings]

Sources are listed in cassettes/INDEX.md.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from langchain_core.messages import AIMessage, BaseMessage, ToolCall
from langchain_core.utils.function_calling import convert_to_openai_tool

from hf_tools import HuggingFaceToolkit, get_spec
from hf_tools.http import HFRequest
from hf_tools.langchain.chat import HFChatModel
from hf_tools.testing import DUMMY_TOKEN, Interaction, use_cassette, write_cassette
from tests._chat_data import (
    AGENT_ANSWER,
    AGENT_ASK,
    AGENT_CALL_ARGS,
    ANIMALS,
    DEEP,
    WEATHER,
    WEATHER_TOOLS,
    Trip,
    get_current_weather,
)

OUT = Path("cassettes/chat-completion")
HUB = "huggingface_hub"
ROUTER = f"{HUB}/router-era_snapshot-2025-04-23"
API = f"{HUB}/api-inference-era_snapshot-2025-01-23"
JS_TAPES = "huggingface.js/tapes_2025-04-22_router-era.json"
SSE = {"content-type": "text/event-stream"}
TGI = "https://tgi.endpoints.huggingface.cloud"
FORCED = {"type": "function", "function": {"name": "get_current_weather"}}


def _event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    event = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(event, separators=(',', ':'))}\n\n"


def _arguments(part: str) -> dict[str, Any]:
    return {"tool_calls": [{"index": 0, "function": {"arguments": part}}]}


# Written from the documented OpenAI stream format (no recording streams a tool call).
_FIRST_CALL = {"index": 0, "id": "call_0", "type": "function"}
TOOL_STREAM = "".join(
    [
        _event(
            {
                "role": "assistant",
                "tool_calls": [
                    {**_FIRST_CALL, "function": {"name": "get_current_weather", "arguments": ""}}
                ],
            }
        ),
        *[
            _event(_arguments(part))
            for part in ['{"location": "San', ' Francisco, CA", ', '"format": "celsius"}']
        ],
        _event(
            {},
            "tool_calls",
            usage={"prompt_tokens": 210, "completion_tokens": 22, "total_tokens": 232},
        ),
        "data: [DONE]\n\n",
    ]
)


class _Loader(yaml.SafeLoader):
    """Reads recordings that carry python tags (binary request bodies): drops those values."""


_Loader.add_multi_constructor("", lambda loader, suffix, node: None)


def posts(path: Path) -> list[dict[str, Any]]:
    """The POST interactions of a recorded cassette."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    return [i for i in data["interactions"] if i["request"]["method"] == "POST"]


def body(path: Path, n: int = 0) -> tuple[int, str, str]:
    """(status, body, content-type) of the n-th recorded POST."""
    response = posts(path)[n]["response"]
    headers = {k.lower(): v[0] for k, v in response["headers"].items()}
    ctype = headers.get("content-type", "application/json").split(";")[0]
    return response["status"]["code"], response["body"]["string"], ctype


def request(
    messages: list[BaseMessage],
    *,
    stream: bool = False,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: Any = None,
    bound: dict[str, Any] | None = None,
    **model_args: Any,
) -> HFRequest:
    """The request HFChatModel sends for this call."""
    model_args.setdefault("model", "meta-llama/Llama-3.1-8B-Instruct")
    llm = HFChatModel(api_key=DUMMY_TOKEN, **model_args)
    kwargs: dict[str, Any] = {}
    if tools is not None:
        kwargs["tools"] = tools
    if tool_choice is not None:
        kwargs["tool_choice"] = tool_choice
    kwargs.update(bound or {})
    return llm.build_request(messages, stream=stream, **kwargs)


def structured(schema: type, method: str) -> dict[str, Any]:
    """The request parameters ``with_structured_output`` binds."""
    llm = HFChatModel(api_key=DUMMY_TOKEN, model="m")
    chain: Any = llm.with_structured_output(schema, method=method)  # type: ignore[arg-type]
    kwargs: dict[str, Any] = chain.first.kwargs
    return kwargs


def _completion(message: dict[str, Any], finish: str, tokens: tuple[int, int]) -> str:
    answer = {
        "id": "chatcmpl-agent",
        "object": "chat.completion",
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": tokens[0],
            "completion_tokens": tokens[1],
            "total_tokens": sum(tokens),
        },
    }
    return json.dumps(answer, separators=(",", ":"))


def agent_round_trip() -> list[Interaction]:
    """From docs: the model calls our text_classification tool, reads it, answers.

    The tool's own exchange is the text-classification success cassette's; the second chat
    request carries the assistant tool call and the ToolMessage our tool really produces.
    """
    toolkit = HuggingFaceToolkit(api_key=DUMMY_TOKEN, tasks=["text-classification"])
    tool = toolkit.get_tool("text_classification")
    tools = [convert_to_openai_tool(tool)]
    call = ToolCall(name=tool.name, args=AGENT_CALL_ARGS, id="call_1", type="tool_call")
    with use_cassette("text-classification/success.yaml") as recorded:
        result = tool.invoke(call)
    tool_exchange = recorded.responses[0]
    spec = get_spec("text-classification")
    client = toolkit.client
    inputs = client.validate(spec, AGENT_CALL_ARGS)
    tool_request = client.prepare(spec, inputs, {}, client.model_for(spec))
    wire_call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": tool.name, "arguments": json.dumps(AGENT_CALL_ARGS)},
    }
    asked = {"role": "assistant", "content": None, "tool_calls": [wire_call]}
    said = {"role": "assistant", "content": AGENT_ANSWER}
    history = [*AGENT_ASK, AIMessage("", tool_calls=[call]), result]
    return [
        Interaction(
            request(AGENT_ASK, tools=tools, tool_choice="auto"),
            200,
            _completion(asked, "tool_calls", (230, 21)),
        ),
        Interaction(tool_request, 200, tool_exchange["body"]["string"]),
        Interaction(
            request(history, tools=tools, tool_choice="auto"),
            200,
            _completion(said, "stop", (280, 14)),
        ),
    ]


def scenarios(rec: Path) -> dict[str, Callable[[], list[Interaction]]]:
    """Cassette name -> its interactions."""

    def one(req: HFRequest, path: Path, n: int = 0) -> list[Interaction]:
        status, text, ctype = body(path, n)
        return [Interaction(req, status, text.encode(), {"content-type": ctype})]

    def in_stream_error() -> list[Interaction]:
        tapes = json.loads((rec / JS_TAPES).read_text(encoding="utf-8"))
        text = next(
            t["response"]["body"]
            for t in tapes.values()
            if "Llama-3.2-3B" in t["url"] and 'data: {"error"' in str(t["response"]["body"])
        )
        return [Interaction(request(DEEP, stream=True, max_tokens=10000), 200, text, SSE)]

    def tgi_tools(choice: Any) -> HFRequest:
        return request(
            WEATHER,
            endpoint_url=TGI,
            model=None,
            max_tokens=500,
            tools=WEATHER_TOOLS,
            tool_choice=choice,
        )

    llama = f"{ROUTER}/TestInferenceClient.test_chat_completion_%s[%s,conversational].yaml"
    tool_rec = rec / f"{API}/InferenceClientVCRTest.test_chat_completion_with_tool.yaml"
    return {
        "no-stream": lambda: one(request(DEEP), rec / (llama % ("no_stream", "hf-inference"))),
        "no-stream-together": lambda: one(
            request(DEEP, model="meta-llama/Meta-Llama-3-8B-Instruct:together"),
            rec / (llama % ("no_stream", "together")),
        ),
        "stream": lambda: one(
            request(DEEP, stream=True, max_tokens=20),
            rec / (llama % ("with_stream", "hf-inference")),
        ),
        "stream-together-usage": lambda: one(
            request(
                DEEP,
                stream=True,
                max_tokens=20,
                stream_usage=True,
                model="meta-llama/Meta-Llama-3-8B-Instruct:together",
            ),
            rec / (llama % ("with_stream", "together")),
        ),
        "stream-error": in_stream_error,
        "stream-tool-call": lambda: [
            Interaction(
                request(WEATHER, stream=True, tools=WEATHER_TOOLS[:1], tool_choice="required"),
                200,
                TOOL_STREAM,
                SSE,
            )
        ],
        "tool-call-tgi": lambda: [
            *one(tgi_tools("auto"), tool_rec, 0),
            *one(tgi_tools(FORCED), tool_rec, 1),
        ],
        "endpoint-tgi": lambda: one(
            request(
                DEEP,
                endpoint_url=TGI,
                model=None,
                max_tokens=20,
                temperature=1.0,
            ),
            rec / f"{API}/InferenceClientVCRTest.test_chat_completion_no_stream.yaml",
        ),
        "response-format": lambda: one(
            request(
                ANIMALS,
                model="meta-llama/Meta-Llama-3-70B-Instruct",
                max_tokens=500,
                bound=structured(Trip, "json_schema"),
            ),
            rec / f"{API}/InferenceClientVCRTest.test_chat_completion_with_response_format.yaml",
        ),
        "structured-function-calling": lambda: one(
            request(
                WEATHER,
                endpoint_url=TGI,
                model=None,
                max_tokens=500,
                bound=structured(get_current_weather, "function_calling"),
            ),
            tool_rec,
            1,
        ),
        "agent-round-trip": agent_round_trip,
        "401": lambda: one(
            request(DEEP, model="meta-llama/Meta-Llama-3-70B-Instruct"),
            rec / f"{ROUTER}/TestInferenceClient.test_chat_completion_unprocessable_entity.yaml",
        ),
        "422-plain-text": lambda: one(
            request(DEEP, model="meta-llama/Meta-Llama-3-70B-Instruct", max_tokens=200),
            rec / f"{API}/InferenceClientVCRTest.test_chat_completion_unprocessable_entity.yaml",
        ),
        "500-non-tgi": lambda: one(
            request(DEEP, model="microsoft/DialoGPT-small", max_tokens=20),
            rec / f"{HUB}/errors_other/InferenceClientVCRTest.test_chat_completion_with_non_tgi"
            "__api-inference__blob-4a12e88b4b.yaml",
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recordings", type=Path, default=Path("../shared/reference/hf-recordings")
    )
    parser.add_argument("names", nargs="*", help="only these scenarios")
    ns = parser.parse_args()
    for name, build in scenarios(ns.recordings).items():
        if not ns.names or name in ns.names:
            print(write_cassette(OUT / f"{name}.yaml", build()))


if __name__ == "__main__":
    main()
