"""Compose tools with LCEL: speech recognition | summarization | translation.

Each tool invoked with a dict returns its content string; small RunnableLambda steps map one
tool's text to the next tool's arguments.

Live:    HF_TOKEN=hf_... python examples/lcel_chain.py
Offline: HF_TOOLS_REPLAY=1 python examples/lcel_chain.py
"""

from __future__ import annotations

from langchain_core.runnables import RunnableLambda

from hf_tools import HuggingFaceToolkit
from hf_tools.testing import replay

CASSETTES = (
    "automatic-speech-recognition/success.yaml",
    "summarization/transcript.yaml",
    "translation/transcript-summary.yaml",
)


def main() -> None:
    with replay(*CASSETTES):
        toolkit = HuggingFaceToolkit(
            tasks=["automatic-speech-recognition", "summarization", "translation"]
        )
        chain = (
            RunnableLambda(lambda path: {"audio": path})
            | toolkit.get_tool("automatic_speech_recognition")
            | RunnableLambda(lambda transcript: {"text": transcript})
            | toolkit.get_tool("summarization")
            | RunnableLambda(lambda summary: {"text": summary})
            | toolkit.get_tool("translation")
        )
        german = chain.invoke("tests/fixtures/audio.flac")
    print("German summary:", german)


if __name__ == "__main__":
    main()
