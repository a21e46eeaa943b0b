"""Outputs travel as JSON (bytes as base64, one rule) and their binary parts save safely."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage, messages_from_dict, messages_to_dict
from pydantic import BaseModel

from hf_tools import REGISTRY
from hf_tools.artifacts import BinaryPart, binary_parts, save_part
from hf_tools.tasks import TaskSpec
from hf_tools.tasks.image_segmentation import ImageSegmentationOutput, Segment
from hf_tools.tasks.text_to_image import TextToImageOutput

from .conftest import FIXTURES, ROOT, task_toolkit

SPECS = list(REGISTRY.values())
IDS = [s.task for s in SPECS]
PNG = (FIXTURES / "image.png").read_bytes()


def recorded_output(spec: TaskSpec[Any, Any], token: str, cassette: Any) -> BaseModel:
    """The task's output, parsed from its success cassette."""
    toolkit = task_toolkit(spec.task, token, allowed_roots=[FIXTURES, ROOT])
    call = {"name": spec.tool_name, "args": dict(spec.example), "id": "c1", "type": "tool_call"}
    with cassette(f"{spec.task}/success"):
        message = toolkit.get_tool(spec.tool_name).invoke(call)
    assert message.status == "success", message.content
    output: BaseModel = message.artifact
    return output


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_every_output_round_trips_json_unchanged(
    spec: TaskSpec[Any, Any], token: str, cassette: Any
) -> None:
    output = recorded_output(spec, token, cassette)
    text = output.model_dump_json()
    back = spec.output_model.model_validate_json(text)
    assert back == output
    assert back.model_dump_json() == text
    # Binary fields are base64 text in JSON and bytes again in Python.
    for part in binary_parts(output):
        assert part.data in [p.data for p in binary_parts(back)]


def _segments(label: str, mask: bytes) -> ImageSegmentationOutput:
    return ImageSegmentationOutput(segments=[Segment(label=label, score=0.9, mask=mask)])


def test_binary_parts_have_their_type_and_a_content_addressed_name() -> None:
    image = TextToImageOutput(image=PNG, mime="image/png")
    (part,) = binary_parts(image)
    assert isinstance(part, BinaryPart)
    assert (part.mime, part.kind) == ("image/png", "image")
    assert part.name.startswith("image_") and part.name.endswith(".png")
    assert binary_parts(TextToImageOutput(image=PNG, mime="image/png"))[0].name == part.name


def test_a_second_call_never_overwrites_the_mask_an_earlier_answer_points_at(
    tmp_path: Path,
) -> None:
    first, second = _segments("person", PNG), _segments("person", PNG + b"\x00")
    first.save(tmp_path)
    second.save(tmp_path)
    assert first.segments[0].path != second.segments[0].path
    assert first.segments[0].path is not None and second.segments[0].path is not None
    assert first.segments[0].path.read_bytes() == PNG
    assert second.segments[0].path.read_bytes() == PNG + b"\x00"
    # The same bytes land on the same name (no duplicates), wherever they come from.
    assert save_part(binary_parts(first)[0], tmp_path) == first.segments[0].path


def test_a_tool_message_with_an_image_artifact_serializes_to_json() -> None:
    image = TextToImageOutput(image=PNG, mime="image/png", width=1, height=1)
    message = ToolMessage("Generated a PNG image", tool_call_id="c1", artifact=image)
    text = json.dumps(messages_to_dict([message]))
    (back,) = messages_from_dict(json.loads(text))
    assert TextToImageOutput.model_validate(back.artifact) == image


@pytest.mark.parametrize("saver", ["memory", "sqlite"])
def test_a_langgraph_checkpointer_keeps_an_image_output(saver: str, tmp_path: Path) -> None:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, MessagesState, StateGraph

    image = TextToImageOutput(image=PNG, mime="image/png", width=1, height=1)

    def tool_node(state: MessagesState) -> dict[str, Any]:
        return {"messages": [ToolMessage("made it", tool_call_id="c1", artifact=image)]}

    graph = StateGraph(MessagesState)
    graph.add_node("tool", tool_node)
    graph.add_edge(START, "tool")
    graph.add_edge("tool", END)
    config: Any = {"configurable": {"thread_id": "t1"}}

    def artifact_after_round_trip(checkpointer: Any) -> Any:
        graph.compile(checkpointer=checkpointer).invoke({"messages": []}, config)
        state = checkpointer.get_tuple(config).checkpoint["channel_values"]["messages"]
        return state[-1].artifact

    if saver == "memory":
        got = artifact_after_round_trip(InMemorySaver())
    else:
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        with sqlite3.connect(tmp_path / "c.db", check_same_thread=False) as conn:
            artifact_after_round_trip(SqliteSaver(conn))  # written by one saver...
            got = artifact_after_round_trip(SqliteSaver(conn))  # ...read back by another
    # What comes back is a dict (LangGraph stores a message's fields as data): the output's
    # JSON form, image as base64 text, which the output model reads back unchanged.
    assert isinstance(got, dict)
    assert isinstance(got["image"], str)
    assert TextToImageOutput.model_validate(got) == image
