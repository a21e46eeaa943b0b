"""Compose tools with LCEL: speech recognition | summarization | translation.

Each tool invoked with a dict returns its content string; small RunnableLambda steps map one
tool's text to the next tool's arguments.

Live:    HF_TOKEN=hf_... python examples/lcel_chain.py
Offline: HF_TOOLS_REPLAY=1 python examples/lcel_chain.py
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from hf_tools import HuggingFaceToolkit
from hf_tools.testing import replay

CASSETTES = (
    "automatic-speech-recognition/success.yaml",
    "summarization/transcript.yaml",
    "translation/transcript-summary.yaml",
)


def as_audio(path: str) -> dict[str, str]:
    return {"audio": path}


def as_text(text: str) -> dict[str, str]:
    return {"text": text}


def main() -> None:
    with replay(*CASSETTES):
        toolkit = HuggingFaceToolkit(
            tasks=["automatic-speech-recognition", "summarization", "translation"]
        )
        chain: Runnable[str, Any] = (
            RunnableLambda(as_audio)
            | toolkit.get_tool("automatic_speech_recognition")
            | RunnableLambda(as_text)  # transcript -> summarization's arguments
            | toolkit.get_tool("summarization")
            | RunnableLambda(as_text)  # summary -> translation's arguments
            | toolkit.get_tool("translation")
        )
        german = chain.invoke("tests/fixtures/audio.flac")
    print("German summary:", german)


if __name__ == "__main__":
    main()
