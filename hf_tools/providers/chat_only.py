"""Providers serving only chat completions at ``/v1/chat/completions``: baseten, ovhcloud,
publicai.
"""

from __future__ import annotations

from hf_tools.providers.openai import openai_adapters

ADAPTERS = (
    *openai_adapters("baseten", chat="/v1/chat/completions"),
    *openai_adapters("ovhcloud", chat="/v1/chat/completions"),
    *openai_adapters("publicai", chat="/v1/chat/completions"),
)
