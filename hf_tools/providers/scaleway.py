"""scaleway: chat and embeddings (OpenAI formats)."""

from __future__ import annotations

from hf_tools.providers.openai import openai_adapters

ADAPTERS = openai_adapters("scaleway", chat="/v1/chat/completions", embeddings="/v1/embeddings")
