"""The offline demo: a recorded agent session, HFChatModel + Agent over cassettes.

The chat turns (``cassettes/agent/demo.yaml``) are written from the documented
OpenAI-compatible format, since no recording of a model calling our tools exists; the tool
calls replay the recorded task cassettes unchanged. ``scripts/make_demo_cassette.py``
rebuilds the chat cassette from ``DEMO_REPLIES`` when what we send changes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from hf_tools.config import RetryPolicy
from hf_tools.langchain.agent import DEFAULT_AGENT_MODEL, Agent, FinalAnswer, ToolEnd, ToolStart
from hf_tools.langchain.chat import HFChatModel
from hf_tools.langchain.toolkit import HuggingFaceToolkit

__all__ = [
    "DEMO_CASSETTES",
    "DEMO_REPLIES",
    "DEMO_REQUEST",
    "DEMO_TASKS",
    "completion",
    "demo_agent",
    "run_demo",
]

DEMO_TASKS = [
    "automatic-speech-recognition",
    "audio-classification",
    "image-to-text",
    "object-detection",
]
# The models the session was recorded with (hf-inference, 2025), named: no provider serves
# audio classification or captioning by default any more, so the toolkit would not offer them.
DEMO_MODELS = {
    "audio-classification": "alefiury/wav2vec2-large-xlsr-53-gender-recognition-librispeech",
    "image-to-text": "Salesforce/blip-image-captioning-base",
}
DEMO_REQUEST = (
    "Listen to tests/fixtures/audio.flac and look at tests/fixtures/image.png: "
    "who speaks and what do they say, and what does the picture show?"
)
DEMO_CASSETTES = (
    "agent/demo.yaml",
    "automatic-speech-recognition/success.yaml",
    "audio-classification/success.yaml",
    "image-to-text/success.yaml",
    "object-detection/success.yaml",
)


def completion(n: int, content: str | None, calls: list[tuple[str, str, dict[str, Any]]]) -> Any:
    """A chat completion body in the OpenAI-compatible format (tool calls as JSON strings)."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for call_id, name, args in calls
        ]
    return {
        "id": f"chatcmpl-demo-{n}",
        "object": "chat.completion",
        "created": 1745400000 + n,
        "model": DEFAULT_AGENT_MODEL,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
        ],
    }


_AUDIO = {"audio": "tests/fixtures/audio.flac"}
_IMAGE = {"image": "tests/fixtures/image.png"}

# The chat completions the model "answers", in the OpenAI-compatible format the router uses.
DEMO_REPLIES: list[Any] = [
    completion(
        1,
        None,
        [
            ("call_transcribe", "automatic_speech_recognition", _AUDIO),
            ("call_speaker", "audio_classification", _AUDIO),
        ],
    ),
    completion(
        2,
        None,
        [("call_caption", "image_to_text", _IMAGE), ("call_objects", "object_detection", _IMAGE)],
    ),
    completion(
        3,
        'A man is speaking (male voice, 99.9%). He says: "A man said to the universe: '
        'sir, I exist." The picture shows a woman in a hat and dress posing for a photo; '
        "the detector finds a person (0.95) and an umbrella (0.57).",
        [],
    ),
]


def demo_agent(root: Path) -> Agent:
    """The demo's agent: HFChatModel with a dummy key, the media tools, reads under ``root``."""
    from hf_tools.testing import DUMMY_TOKEN  # the testing extra: loaded only for the demo

    # Recorded "model loading" waits are cut short; the demo shows the flow, not the wait.
    fast = RetryPolicy(max_loading_wait=0.5, max_retry_after=0.5)
    model = HFChatModel(model=DEFAULT_AGENT_MODEL, api_key=DUMMY_TOKEN, retry=fast)
    toolkit = HuggingFaceToolkit(
        api_key=DUMMY_TOKEN, tasks=DEMO_TASKS, models=DEMO_MODELS, allowed_roots=[root], retry=fast
    )
    return Agent(model, toolkit.get_tools())


@contextmanager
def _working_dir(path: Path) -> Iterator[None]:
    # The recorded tool calls name files relative to the checkout.
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def run_demo(library: Path, out: TextIO) -> None:
    """Replay the recorded agent session, printing each step and the answer."""
    from hf_tools.testing import CHAT_MATCH_ON, use_cassette  # the testing extra (vcrpy)

    root = library.resolve().parent
    out.write(f"you> {DEMO_REQUEST}\n")
    cassettes = use_cassette(*DEMO_CASSETTES, library_dir=library, match_on=CHAT_MATCH_ON)
    with _working_dir(root), cassettes:
        # No token streaming: the recorded chat turns are whole completions.
        for event in demo_agent(root).stream_events(DEMO_REQUEST, tokens=False):
            if isinstance(event, ToolStart):
                args = json.dumps(event.args, ensure_ascii=False)
                out.write(f"\nstep {event.step}: the model calls {event.name}({args})\n")
            elif isinstance(event, ToolEnd):
                for line in event.content.splitlines()[:4]:
                    out.write(f"  -> {line}\n")
            elif isinstance(event, FinalAnswer):
                result = event.result
                out.write(f"\nanswer (step {result.steps}): {result.answer}\n")
                kept = ", ".join(f"{n}: {type(a).__name__}" for n, a in result.artifacts)
                out.write(f"artifacts kept out of the prompt: {kept}\n")
