"""Write the chat turns of recorded agent sessions: the demo's and the agent example's.

``cassettes/agent/demo.yaml`` (``hf-tools demo``), ``cassettes/agent/example.yaml``
(``examples/toolkit_agent.py``) and ``cassettes/agent/stream.yaml`` (a streamed session,
for the tests of ``hf-tools agent``). The replies are chat completions written from the
OpenAI-compatible format: no recording of a model calling our tools exists. The requests are
what HFChatModel sends for the conversation the agent builds, found by running the agent on a
scripted model over the recorded tool cassettes. Rerun after changing what the agent or
HFChatModel sends:

    python scripts/make_demo_cassette.py
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hf_tools import HuggingFaceToolkit
from hf_tools.demo import DEMO_CASSETTES, DEMO_REPLIES, DEMO_REQUEST, DEMO_TASKS, completion
from hf_tools.langchain.agent import Agent
from hf_tools.langchain.chat import HFChatModel, parse_completion
from hf_tools.testing import (
    DUMMY_TOKEN,
    Interaction,
    ScriptedChatModel,
    use_cassette,
    write_cassette,
)

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "cassettes"

EXAMPLE_REPLIES = [
    completion(
        1,
        None,
        [("call_sentiment", "text_classification", {"text": "I like you"})],
    ),
    completion(2, "Positive: the classifier gives POSITIVE with 99.99% confidence.", []),
]


STREAM_REPLIES = [
    completion(
        1,
        "Let me check.",
        [("call_sentiment", "text_classification", {"text": "I like you"})],
    ),
    completion(2, "Positive: POSITIVE 0.9999.", []),
]


def _sse(body: dict[str, Any]) -> str:
    """A completion as the OpenAI-compatible stream sends it: content word by word, then the
    tool calls (id and name first, arguments in two pieces), then the finish reason."""
    base = {k: body[k] for k in ("id", "model", "created")} | {"object": "chat.completion.chunk"}
    message = body["choices"][0]["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        data = base | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return "data: " + json.dumps(data, separators=(",", ":")) + "\n\n"

    out = [chunk({"role": "assistant", "content": ""})]
    words = (message.get("content") or "").split(" ")
    out += [chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(words) if w]
    for i, call in enumerate(message.get("tool_calls", [])):
        fn = call["function"]
        head = {"index": i, "id": call["id"], "type": "function"}
        out.append(
            chunk({"tool_calls": [head | {"function": {"name": fn["name"], "arguments": ""}}]})
        )
        half = len(fn["arguments"]) // 2
        for piece in (fn["arguments"][:half], fn["arguments"][half:]):
            out.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
    out.append(chunk({}, body["choices"][0]["finish_reason"]))
    return "".join(out) + "data: [DONE]\n\n"


def write_session(
    target: str,
    request: str,
    tasks: list[str],
    replies: Sequence[Any],
    tool_cassettes: Sequence[str],
    *,
    stream: bool = False,
) -> Path:
    """Run the session on a scripted model, then pair each request HFChatModel would send
    with its reply (as a stream of server-sent events when ``stream``)."""
    model = HFChatModel(model="Qwen/Qwen2.5-72B-Instruct", api_key=DUMMY_TOKEN)
    toolkit = HuggingFaceToolkit(api_key=DUMMY_TOKEN, tasks=tasks, allowed_roots=[ROOT])
    scripted = ScriptedChatModel(
        replies=[parse_completion(body).generations[0].message for body in replies]
    )
    with use_cassette(*tool_cassettes, library_dir=LIBRARY):
        Agent(scripted, toolkit.get_tools()).invoke(request)
    interactions = [
        Interaction(
            model.build_request(seen, stream=stream, tools=scripted.tools),
            200,
            _sse(body) if stream else json.dumps(body, separators=(",", ":")),
            {"content-type": "text/event-stream" if stream else "application/json"},
        )
        for seen, body in zip(scripted.seen, replies, strict=True)
    ]
    return write_cassette(LIBRARY / target, interactions)


def main() -> None:
    print(
        write_session(DEMO_CASSETTES[0], DEMO_REQUEST, DEMO_TASKS, DEMO_REPLIES, DEMO_CASSETTES[1:])
    )
    print(
        write_session(
            "agent/example.yaml",
            "Is this review positive or negative? 'I like you'",
            ["text-classification", "summarization", "translation"],
            EXAMPLE_REPLIES,
            ["text-classification/success.yaml"],
        )
    )
    print(
        write_session(
            "agent/stream.yaml",
            "Is 'I like you' positive?",
            ["text-classification"],
            STREAM_REPLIES,
            ["text-classification/success.yaml"],
            stream=True,
        )
    )


if __name__ == "__main__":
    main()
