"""cerebras: chat completions."""

from __future__ import annotations

from hf_tools.providers.openai import openai_adapters

ADAPTERS = openai_adapters("cerebras", chat="/v1/chat/completions")
