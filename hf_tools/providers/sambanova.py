"""sambanova: chat and embeddings (OpenAI formats); removed from huggingface_hub 2026-07-01."""

from __future__ import annotations

from hf_tools.providers.openai import openai_adapters

ADAPTERS = openai_adapters("sambanova", chat="/v1/chat/completions", embeddings="/v1/embeddings")
