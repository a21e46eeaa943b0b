"""LoRA models: the Hub mapping's adapter weights reach the provider as huggingface_hub sends them.

A LoRA repo is mapped to its base model's ``providerId`` plus ``adapter: "lora"`` and
``adapterWeightsPath``. The mappings below are those of the two LoRA calls huggingface.js
recorded on fal-ai (their requests carry the weights URL this mapping gives); the requests are
compared with the ones huggingface_hub's own provider helpers build from the same entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hf_tools import HFClient
from hf_tools.providers import Call, get_adapter
from hf_tools.routing import Lookup, parse_mapping, settle
from hf_tools.tasks import get_spec
from hf_tools.testing import use_cassette

from .test_provider_flow import exchange, interactions
from .test_providers import _MEDIA, RECORDS

GHIBLI = "openfree/flux-chatgpt-ghibli-lora"
PIXEL = "nerijs/pixel-art-xl"
ENTRIES = {
    GHIBLI: ("fal-ai/flux-lora", "flux-chatgpt-ghibli-lora.safetensors"),
    PIXEL: ("fal-ai/lora", "pixel-art-xl.safetensors"),
}


def _model_info(model: str, provider: str, task: str, provider_id: str | None = None) -> Any:
    default_id, weights = ENTRIES[model]
    entry = {
        "provider": provider,
        "providerId": provider_id or default_id,
        "status": "live",
        "task": task,
        "adapter": "lora",
        "adapterWeightsPath": weights,
    }
    return {"id": model, "inferenceProviderMapping": [entry]}


def _ours(model: str, provider: str, task: str, args: dict[str, Any], **kw: Any) -> Any:
    spec = get_spec(task)
    client = HFClient(api_key="hf_x", provider=provider)
    mappings = parse_mapping(_model_info(model, provider, task, **kw))
    route = settle(client.settings, spec, Lookup(model, provider), mappings)
    call = Call(
        task=task,
        provider=route.provider,
        model=route.provider_model,
        args=spec.input_model.model_validate(args),
        media={f: _MEDIA[f] for f in spec.media_fields},
        lora=route.lora,
    )
    return get_adapter(provider, task).payload(call).json


def _theirs(model: str, provider: str, task: str, inputs: Any, params: dict[str, Any], **kw: Any):
    from huggingface_hub.hf_api import InferenceProviderMapping
    from huggingface_hub.inference._providers import PROVIDERS

    info = _model_info(model, provider, task, **kw)["inferenceProviderMapping"][0]
    mapping = InferenceProviderMapping(hf_model_id=model, **info)
    return PROVIDERS[provider][task]._prepare_payload_as_dict(inputs, params, mapping)


def _same_bytes(ours: Any, theirs: Any) -> None:
    def wire(body: Any) -> bytes:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    assert wire(ours) == wire(theirs)


@pytest.mark.parametrize("model", [GHIBLI, PIXEL])
def test_fal_text_to_image_lora_request_is_huggingface_hubs(model: str) -> None:
    recorded = next(
        r
        for r in RECORDS
        if r["request"] and "loras" in r["request"] and r["model"] == ENTRIES[model][0]
    )
    args = recorded["args"] | {"width": 512, "height": 512}
    params = {k: v for k, v in args.items() if k != "prompt"}
    ours = _ours(model, "fal-ai", "text-to-image", args)
    _same_bytes(ours, _theirs(model, "fal-ai", "text-to-image", args["prompt"], params))
    # And the weights URL is the one huggingface.js sent for this model.
    assert ours["loras"] == recorded["request"]["loras"]
    assert ours.get("model_name") == recorded["request"].get("model_name")


def test_fal_media_tasks_carry_the_lora_too() -> None:
    image = "data:image/png;base64,"  # both clients inline the same PNG
    cases = [
        ("text-to-video", {"prompt": "A whale flies."}, "A whale flies.", {}),
        (
            "image-to-image",
            {"image": "x.png", "prompt": "Ghibli style."},
            image,
            {"prompt": "Ghibli style."},
        ),
    ]
    for task, args, inputs, params in cases:
        ours = _ours(GHIBLI, "fal-ai", task, args, provider_id="fal-ai/some-route")
        theirs = _theirs(GHIBLI, "fal-ai", task, inputs, params, provider_id="fal-ai/some-route")
        assert ours["loras"] == theirs["loras"]
        assert ours["loras"][0]["path"].startswith(f"https://huggingface.co/{GHIBLI}/resolve/main/")


def test_replicate_lora_request_is_huggingface_hubs() -> None:
    args = {"prompt": "pixel, a cute corgi"}
    ours = _ours(PIXEL, "replicate", "text-to-image", args, provider_id="lucataco/sdxl-lora:abc")
    theirs = _theirs(
        PIXEL,
        "replicate",
        "text-to-image",
        args["prompt"],
        {},
        provider_id="lucataco/sdxl-lora:abc",
    )
    _same_bytes(ours, theirs)
    assert ours["input"]["lora_weights"] == f"https://huggingface.co/{PIXEL}"


def test_a_plain_model_sends_no_lora() -> None:
    info = _model_info(GHIBLI, "fal-ai", "text-to-image")
    del info["inferenceProviderMapping"][0]["adapterWeightsPath"]
    spec = get_spec("text-to-image")
    client = HFClient(api_key="hf_x", provider="fal-ai")
    route = settle(client.settings, spec, Lookup(GHIBLI, "fal-ai"), parse_mapping(info))
    assert route.lora is None


def test_the_weights_come_from_the_hub_the_mapping_came_from() -> None:
    spec = get_spec("text-to-image")
    client = HFClient(api_key="hf_x", provider="fal-ai", hub_url="https://hub.example.org")
    mappings = parse_mapping(_model_info(GHIBLI, "fal-ai", "text-to-image"))
    route = settle(client.settings, spec, Lookup(GHIBLI, "fal-ai"), mappings)
    assert route.lora is not None
    assert route.lora.weights_url == (
        f"https://hub.example.org/{GHIBLI}/resolve/main/flux-chatgpt-ghibli-lora.safetensors"
    )


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_lora_model_generates_with_its_weights_end_to_end(mode: str, tmp_path: Path) -> None:
    import asyncio

    from hf_tools import AsyncHFClient

    recorded = interactions("providers/fal-ai/text-to-image/flux-lora-data-uri.yaml")[0]
    body = json.loads(recorded["request"]["body"])
    weights = f"https://huggingface.co/{GHIBLI}/resolve/main/{ENTRIES[GHIBLI][1]}"
    flow = [
        exchange(
            "GET",
            f"https://huggingface.co/api/models/{GHIBLI}?expand[]=inferenceProviderMapping",
            answer=_model_info(GHIBLI, "fal-ai", "text-to-image"),
        ),
        {
            "request": {
                **recorded["request"],
                "body": json.dumps(
                    body | {"loras": [{"path": weights, "scale": 1}]}, separators=(",", ":")
                ),
            },
            "response": recorded["response"],
        },
    ]
    (tmp_path / "flow.yaml").write_text(yaml.safe_dump({"interactions": flow, "version": 1}))
    kw: dict[str, Any] = {
        "api_key": "hf_x",
        "provider": "fal-ai",
        "models": {"text-to-image": GHIBLI},
    }
    with use_cassette("flow.yaml", library_dir=tmp_path, record_mode="none") as tape:
        if mode == "sync":
            out = HFClient(**kw).run("text-to-image", prompt=body["prompt"])
        else:
            out = asyncio.run(AsyncHFClient(**kw).run("text-to-image", prompt=body["prompt"]))
    assert tape.all_played and out.mime == "image/jpeg"
