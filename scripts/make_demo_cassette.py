"""Write the chat turns of recorded agent sessions: the demo's and the agent example's.

``cassettes/agent/demo.yaml`` (``hf-tools demo``) and ``cassettes/agent/example.yaml``
(``examples/toolkit_agent.py``). The replies are chat completions written from the
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
from hf_tools.agent import Agent
from hf_tools.chat import HFChatModel, parse_completion
from hf_tools.demo import DEMO_CASSETTES, DEMO_REPLIES, DEMO_REQUEST, DEMO_TASKS, completion
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


def write_session(
    target: str,
    request: str,
    tasks: list[str],
    replies: Sequence[Any],
    tool_cassettes: Sequence[str],
) -> Path:
    """Run the session on a scripted model, then pair each request HFChatModel would send
    with its reply."""
    model = HFChatModel(model="Qwen/Qwen2.5-72B-Instruct", api_key=DUMMY_TOKEN)
    toolkit = HuggingFaceToolkit(api_key=DUMMY_TOKEN, tasks=tasks, allowed_roots=[ROOT])
    scripted = ScriptedChatModel(
        replies=[parse_completion(body).generations[0].message for body in replies]
    )
    with use_cassette(*tool_cassettes, library_dir=LIBRARY):
        Agent(scripted, toolkit.get_tools()).invoke(request)
    interactions = [
        Interaction(
            model.build_request(seen, tools=scripted.tools),
            200,
            json.dumps(body, separators=(",", ":")),
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


if __name__ == "__main__":
    main()
