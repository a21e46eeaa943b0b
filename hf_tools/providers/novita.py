"""novita: chat and completions under ``/v3/openai`` (there is no ``/v1`` route)."""

from __future__ import annotations

from hf_tools.providers.openai import openai_adapters

ADAPTERS = openai_adapters(
    "novita", chat="/v3/openai/chat/completions", completions="/v3/openai/completions"
)
