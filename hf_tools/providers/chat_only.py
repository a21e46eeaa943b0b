"""Providers that serve only chat completions: baseten, ovhcloud, publicai.

All three at ``/v1/chat/completions``, in the OpenAI format.
"""

from __future__ import annotations

from hf_tools.providers.openai import openai_adapters

ADAPTERS = (
    *openai_adapters("baseten", chat="/v1/chat/completions"),
    *openai_adapters("ovhcloud", chat="/v1/chat/completions"),
    *openai_adapters("publicai", chat="/v1/chat/completions"),
)
