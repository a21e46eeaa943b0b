"""The core's shape (DESIGN section 1): one call path, routing in one place, no cycles."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from hf_tools import HFClient
from hf_tools.errors import ConfigurationError
from hf_tools.providers import get_adapter
from hf_tools.tasks import get_spec
from hf_tools.tasks._base import TaskSpec


def _refusing(sent: list[httpx2.Request]) -> httpx2.MockTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(500)

    return httpx2.MockTransport(handler)


def test_a_task_hf_inference_does_not_speak_fails_before_any_request_naming_the_fix() -> None:
    base = get_spec("text-classification")
    spec: TaskSpec[Any, Any] = TaskSpec(
        task="text-classification",
        description=base.description,
        input_model=base.input_model,
        output_model=base.output_model,
        render=base.render,
        default_model="org/m",
        example=base.example,
    )
    sent: list[httpx2.Request] = []
    client = HFClient(api_key="hf_x", transport=_refusing(sent))
    with pytest.raises(ConfigurationError, match="hf-inference does not serve text-classification"):
        client.run_spec(spec, spec.input_model(text="hi"))
    assert sent == []


def test_every_way_of_addressing_hf_inference_goes_through_its_adapter() -> None:
    spec = get_spec("feature-extraction")
    adapter = get_adapter("hf-inference", spec.task)
    inputs = spec.input_model(texts="hi")
    cases = {
        HFClient(api_key="k"): "https://router.huggingface.co/hf-inference/models/org/m"
        "/pipeline/feature-extraction",
        HFClient(api_key="k", base_url="http://127.0.0.1:9"): "http://127.0.0.1:9/models/org/m"
        "/pipeline/feature-extraction",
        HFClient(api_key="k", provider="hf-inference"): "https://router.huggingface.co"
        "/hf-inference/models/org/m/pipeline/feature-extraction",
        HFClient(api_key="k", base_url="http://127.0.0.1:9/e", is_custom_endpoint=True): (
            "http://127.0.0.1:9/e"
        ),
    }
    for client, url in cases.items():
        request = client.prepare(spec, inputs, {}, "org/m")
        assert request.url == url
        assert request.content == b'{"inputs":"hi"}'
    assert adapter.route("org/m") == "/models/org/m/pipeline/feature-extraction"
