"""fireworks-ai: chat completions under ``/inference/v1``."""

from __future__ import annotations

from hf_tools.providers.openai import openai_adapters

ADAPTERS = openai_adapters("fireworks-ai", chat="/inference/v1/chat/completions")
