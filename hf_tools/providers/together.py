"""together: chat, completions, embeddings, and text-to-image answered as base64.

Recorded: ``/v1/images/generations`` -> ``data[0].b64_json``; ``/v1/completions`` ->
``choices[0].text``; chat completions in the OpenAI format.
"""

from __future__ import annotations

from hf_tools.providers.openai import b64_image_payload, openai_adapters

ADAPTERS = openai_adapters(
    "together",
    chat="/v1/chat/completions",
    completions="/v1/completions",
    embeddings="/v1/embeddings",
    images="/v1/images/generations",
    # together asks for base64 as "base64" and calls the step count "steps".
    image_payload=b64_image_payload(
        response_format="base64", rename={"num_inference_steps": "steps"}
    ),
)
