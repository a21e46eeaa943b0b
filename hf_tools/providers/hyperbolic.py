"""hyperbolic: chat, and text-to-image answering ``images[0].image`` as base64.

Its image route wants ``model_name`` (a ``model`` key is refused with 422, as recorded) and
calls the parameters ``steps`` and ``cfg_scale``. Removed from huggingface_hub 2026-07-01.
"""

from __future__ import annotations

from hf_tools.providers._base import Adapter
from hf_tools.providers.openai import b64_image_payload, fixed, openai_adapters, parse_b64_image

ADAPTERS = (
    *openai_adapters("hyperbolic", chat="/v1/chat/completions"),
    Adapter(
        provider="hyperbolic",
        task="text-to-image",
        route=fixed("/v1/images/generations"),
        payload=b64_image_payload(
            model_key="model_name",
            response_format="",
            rename={"num_inference_steps": "steps", "guidance_scale": "cfg_scale"},
        ),
        parse=parse_b64_image("images", 0, "image"),
    ),
)
