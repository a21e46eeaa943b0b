"""nscale: chat, and b64 text-to-image with the size as ``"WxH"``.

nscale takes no step count (huggingface_hub drops it too).
"""

from __future__ import annotations

from hf_tools.providers.openai import b64_image_payload, openai_adapters

ADAPTERS = openai_adapters(
    "nscale",
    chat="/v1/chat/completions",
    images="/v1/images/generations",
    image_payload=b64_image_payload(rename={"num_inference_steps": ""}, size_as_text=True),
)
