"""Image tasks: the raw-bytes vs base64-JSON wire rule, parsed output, the LLM's text."""

from __future__ import annotations

import base64
import json
from typing import Any

from langchain_core.messages import ToolMessage

from hf_tools import HFClient, HuggingFaceToolkit, get_spec
from hf_tools.http import HFRequest

from .conftest import FIXTURES

IMAGE = FIXTURES / "image.png"


def _request(task: str, **args: Any) -> HFRequest:
    client = HFClient(api_key="hf_x", allowed_roots=[FIXTURES])
    spec = get_spec(task)
    inputs = client.validate(spec, args)
    from hf_tools.media import resolve_media

    media = {"image": resolve_media(args["image"], client.settings)}
    return client.prepare(spec, inputs, media, client.model_for(spec))


def test_no_parameters_sends_raw_bytes_with_their_type() -> None:
    request = _request("image-classification", image=str(IMAGE))
    assert request.content == IMAGE.read_bytes()
    assert request.headers["content-type"] == "image/png"
    assert request.url.endswith("/models/google/vit-base-patch16-224")


def test_parameters_switch_to_base64_json() -> None:
    request = _request("object-detection", image=str(IMAGE), threshold=0.9)
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert body["parameters"] == {"threshold": 0.9}
    assert base64.b64decode(body["inputs"]) == IMAGE.read_bytes()


def _call(toolkit: HuggingFaceToolkit, name: str, **args: Any) -> ToolMessage:
    msg = toolkit.get_tool(name).invoke(
        {"name": name, "args": args, "id": "1", "type": "tool_call"}
    )
    assert isinstance(msg, ToolMessage)
    return msg


def test_image_classification_content(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    with cassette("image-classification/success"):
        msg = _call(toolkit, "image_classification", image="tests/fixtures/image.png")
    assert str(msg.content).startswith("brassiere, bra, bandeau 0.1177, sombrero 0.0957")


def test_object_detection_content(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    with cassette("object-detection/success"):
        msg = _call(toolkit, "object_detection", image="tests/fixtures/image.png")
    assert str(msg.content).splitlines()[0] == "person 0.9487 [59,39,420,510]"
    assert msg.artifact.detections[0].box.xmax == 420


def test_refused_image_never_reaches_the_service(
    toolkit: HuggingFaceToolkit, sent: list[HFRequest]
) -> None:
    msg = _call(toolkit, "image_classification", image="/etc/passwd")
    assert msg.status == "error"
    assert "outside the folders this tool may read" in str(msg.content)
    text = _call(toolkit, "image_classification", image="README.md")
    assert "not a recognized image or audio file" in str(text.content)
    assert sent == []
