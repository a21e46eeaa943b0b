"""deepinfra: chat, completions and embeddings under ``/v1/openai``; text-to-speech.

text-to-speech (from huggingface_hub's adapter; no recording): ``POST
/v1/openai/audio/speech`` ``{"input", "voice"?, "model"}`` answers the audio itself.
Its ASR route (a multipart upload) is not adapted yet.
"""

from __future__ import annotations

from hf_tools.providers._media import binary, speech_payload
from hf_tools.providers.openai import openai_adapters
from hf_tools.tasks import text_to_speech

PROVIDER = "deepinfra"

ADAPTERS = (
    *openai_adapters(
        PROVIDER,
        chat="/v1/openai/chat/completions",
        completions="/v1/openai/completions",
        embeddings="/v1/openai/embeddings",
    ),
    binary(
        PROVIDER,
        "text-to-speech",
        "/v1/openai/audio/speech",
        speech_payload,
        text_to_speech.read,
    ),
)
