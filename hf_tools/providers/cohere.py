"""cohere: chat completions through its OpenAI compatibility API."""

from __future__ import annotations

from hf_tools.providers.openai import openai_adapters

ADAPTERS = openai_adapters("cohere", chat="/compatibility/v1/chat/completions")
