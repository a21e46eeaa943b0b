"""featherless-ai: chat and completions (OpenAI formats)."""

from __future__ import annotations

from hf_tools.providers.openai import openai_adapters

ADAPTERS = openai_adapters(
    "featherless-ai", chat="/v1/chat/completions", completions="/v1/completions"
)
