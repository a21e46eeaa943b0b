"""deepinfra: chat, completions and embeddings under ``/v1/openai``.

Its ASR (multipart upload) and TTS routes are not adapted yet.
"""

from __future__ import annotations

from hf_tools.providers.openai import openai_adapters

ADAPTERS = openai_adapters(
    "deepinfra",
    chat="/v1/openai/chat/completions",
    completions="/v1/openai/completions",
    embeddings="/v1/openai/embeddings",
)
