"""langchain-tests' standard tool suites, run for every tool in the registry.

The suites are class based: one unit and one integration class per task is generated below,
so a task added to the registry is covered without editing this file. Integration tests replay
the task's success cassette (several times: the suite calls the tool sync and async, with and
without a ToolCall).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from hf_tools import REGISTRY, TaskSpec
from hf_tools.testing import DUMMY_TOKEN, use_cassette

from .conftest import CASSETTES, FIXTURES, ROOT, task_toolkit


def _tool(spec: TaskSpec[Any, Any]) -> BaseTool:
    toolkit = task_toolkit(spec.task, DUMMY_TOKEN, allowed_roots=[FIXTURES, ROOT])
    return toolkit.get_tool(spec.tool_name)


def _suites(spec: TaskSpec[Any, Any]) -> tuple[type, type]:
    def tool_constructor(self: Any) -> BaseTool:
        return _tool(spec)

    def tool_constructor_params(self: Any) -> dict[str, Any]:
        return {}

    def tool_invoke_params_example(self: Any) -> dict[str, Any]:
        return dict(spec.example)

    props = {
        "tool_constructor": property(tool_constructor),
        "tool_constructor_params": property(tool_constructor_params),
        "tool_invoke_params_example": property(tool_invoke_params_example),
    }

    @pytest.fixture(autouse=True)
    def _replay(self: Any, request: pytest.FixtureRequest) -> Iterator[None]:
        with use_cassette(
            f"{spec.task}/success.yaml",
            library_dir=CASSETTES,
            all_played=False,
            allow_playback_repeats=True,
        ):
            yield

    name = "".join(part.title() for part in spec.task.split("-"))
    unit = type(f"Test{name}Unit", (ToolsUnitTests,), dict(props))
    integration = type(
        f"Test{name}Integration", (ToolsIntegrationTests,), {**props, "_replay": _replay}
    )
    return unit, integration


for _spec in REGISTRY.values():
    for _cls in _suites(_spec):
        globals()[_cls.__name__] = _cls
