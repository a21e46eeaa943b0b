"""nebius: chat, embeddings, and b64 text-to-image (OpenAI formats).

Removed from huggingface_hub on 2026-07-01; kept because the router still names it and the
recordings show its formats.
"""

from __future__ import annotations

from hf_tools.providers.openai import b64_image_payload, openai_adapters

ADAPTERS = openai_adapters(
    "nebius",
    chat="/v1/chat/completions",
    embeddings="/v1/embeddings",
    images="/v1/images/generations",
    image_payload=b64_image_payload(rename={"guidance_scale": ""}),  # not a nebius parameter
)
