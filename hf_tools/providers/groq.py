"""groq: chat completions under ``/openai/v1``."""

from __future__ import annotations

from hf_tools.providers.openai import openai_adapters

ADAPTERS = openai_adapters("groq", chat="/openai/v1/chat/completions")
