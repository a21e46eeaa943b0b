"""``hf-tools list``: the tools these settings serve, their schemas and what they cost."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from hf_tools.cli.flags import add_settings_flags, settings_from
from hf_tools.cli.messages import error_text

if TYPE_CHECKING:
    from hf_tools.langchain.toolkit import HuggingFaceToolkit
    from hf_tools.toolset import Tool, Toolset

__all__ = ["configure", "run", "schema_bytes"]

_PLACEHOLDER_KEY = "hf_placeholder_never_sent"


def configure(parser: argparse.ArgumentParser) -> None:
    """The flags of ``list``."""
    parser.add_argument("--json", action="store_true", help="every tool schema as JSON")
    parser.add_argument("--schema", metavar="TOOL", help="one tool's schema as JSON")
    parser.add_argument(
        "--families", metavar="F1,F2", help="offer only these families: text,vision,audio,..."
    )
    add_settings_flags(parser)


def schema_bytes(tools: Toolset | HuggingFaceToolkit) -> int:
    """Bytes of every tool schema as an LLM receives them (:meth:`Toolset.schema_bytes`)."""
    from hf_tools.toolset import Toolset

    toolset = tools if isinstance(tools, Toolset) else tools.toolset
    return toolset.schema_bytes()


def _openai_tool(tool: Tool) -> dict[str, object]:
    return {"type": "function", "function": tool.definition()}


def _not_offered(name: str) -> str | None:
    """Why a task's tool is missing from the list, and which flag makes it available.

    None when ``name`` is no task: the caller says so.
    """
    from hf_tools.errors import ConfigurationError
    from hf_tools.tasks import get_spec
    from hf_tools.toolset import default_providers

    try:
        spec = get_spec(name)
    except ConfigurationError:
        return None
    if spec.needs_endpoint:
        return (
            f"{spec.tool_name} needs its endpoint: add --task-model {spec.task}=URL"
            " (the URL of your endpoint)"
        )
    providers = default_providers(spec.task)
    if not providers:
        return (
            f"{spec.tool_name} is not served with these settings: no provider has a default"
            f" model for it; name one with --task-model {spec.task}=MODEL"
        )
    return (
        f"{spec.tool_name} is not served with these settings: use --provider auto (the default"
        f" with a token) or one of {', '.join(providers)}, or name a model with --task-model"
        f" {spec.task}=MODEL"
    )


def run(ns: argparse.Namespace) -> int:
    """List the tools (or print schemas); 2 when the settings cannot work."""
    from hf_tools.cli.flags import task_ids
    from hf_tools.errors import HFToolsError
    from hf_tools.tasks import REGISTRY
    from hf_tools.toolset import Toolset

    settings = settings_from(ns)
    settings.setdefault("api_key", _PLACEHOLDER_KEY)
    try:
        toolset = Toolset(families=task_ids(ns.families), **settings)
    except HFToolsError as exc:
        print(error_text(exc), file=sys.stderr)
        return 2
    tools = toolset.tools
    if ns.schema:
        try:
            one = toolset.get(ns.schema)
        except KeyError as exc:
            print(_not_offered(ns.schema) or error_text(exc), file=sys.stderr)
            return 2
        print(json.dumps(_openai_tool(one), indent=2))
        return 0
    if ns.json:
        print(json.dumps([_openai_tool(t) for t in tools], indent=2))
        return 0
    for tool in tools:
        print(f"{tool.name:32} {tool.description}")  # one line each, as the LLM reads it
    size = toolset.schema_bytes()
    print(f"{len(tools)} tools; schemas {size} bytes (~{size // 4} tokens) per call")
    offered = set(toolset.names)
    unserved = [s.tool_name for s in REGISTRY.values() if s.tool_name not in offered]
    if unserved:
        print(
            f"not served with these settings: {', '.join(unserved)} (another --provider, or"
            " name a model: hf-tools call TOOL --model ID)"
        )
    return 0
