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


def _gray_png(rows: list[bytes]) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    width, height = len(rows[0]), len(rows)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 per row
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_mask_coverage() -> None:
    from hf_tools.tasks.image_segmentation import mask_coverage

    assert mask_coverage(_gray_png([b"\xff\x00", b"\x00\x00"])) == 0.25
    assert mask_coverage(_gray_png([b"\xff\xff", b"\xff\xff"])) == 1.0
    assert mask_coverage(b"not a png") is None


def test_segmentation_masks_stay_out_of_content(token: str, cassette: Any, tmp_path: Any) -> None:
    toolkit = HuggingFaceToolkit(api_key=token, output_dir=tmp_path, allowed_roots=[FIXTURES])
    with cassette("image-segmentation/success"):
        msg = _call(toolkit, "image_segmentation", image=str(IMAGE))
    lines = str(msg.content).splitlines()
    assert lines[0].startswith("person 0.9938, covers 50.8%, mask saved to ")
    assert lines[-1] == "(masks are PNG images in the artifact)"
    assert "iVBOR" not in str(msg.content) and len(str(msg.content)) < 500
    saved = sorted(tmp_path.iterdir())
    assert [p.name for p in saved] == ["mask_00_person.png", "mask_01_LABEL_199.png"]
    assert saved[0].read_bytes() == msg.artifact.segments[0].mask
    assert saved[0].read_bytes().startswith(b"\x89PNG")


def test_image_to_text_content(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    with cassette("image-to-text/success"):
        msg = _call(toolkit, "image_to_text", image="tests/fixtures/image.png")
    assert msg.content == "a woman in a hat and dress posing for a photo"
