"""Print the pins and pytest arguments `make test-lowest` uses, read from pyproject.toml.

`make test-lowest` runs the suite twice. The core pass pins every runtime dependency and the
`server` extra (the chatbot server the suite drives) at its floor and installs the dev tools
around them, except the tools that need newer runtime versions than our floors (the MCP SDK
needs pydantic>=2.12; langchain 1.5's agents need langgraph>=1.2.12, so langchain-core>=1.4.7):
the tests that use them are left out, or skip themselves. The extras pass pins each feature
extra (`mcp`, and any added later) at its own floor, lets the runtime dependencies resolve
around them, and runs the whole suite.

Usage: ``floors.py core`` (pins), ``floors.py tools`` (the core pass's dev tools),
``floors.py skip`` (its pytest arguments), ``floors.py extras`` (pins),
``floors.py features`` (``,mcp...``: the feature extras to install).
"""

import re
import sys
import tomllib
from pathlib import Path

# Dev tools that cannot sit beside the runtime floors, by distribution name.
LATER_TOOLS = ("mcp", "langchain")
# The tests that need them (whole modules, or single tests of shared modules).
LATER_TESTS = (
    "tests/test_mcp.py",
    "tests/test_mcp_transports.py",
    "tests/test_mcp_langchain.py",
    "tests/test_mcp_inspector.py",
    "tests/test_core_design.py::test_the_mcp_server_starts_and_lists_its_tools_without_importing_langchain",
)
PROJECT = tomllib.loads(Path("pyproject.toml").read_text())["project"]
NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def floor(requirement: str) -> str:
    match = re.match(r"([A-Za-z0-9_.\-]+)(?:\[[^]]*\])?\s*>=\s*([0-9][^,;\s]*)", requirement)
    if match is None:
        msg = f"no lower bound in {requirement!r}"
        raise SystemExit(msg)
    return f"{match[1]}=={match[2]}"


def name(requirement: str) -> str:
    match = NAME.match(requirement)
    assert match is not None
    return match[0].lower()


def main(mode: str) -> None:
    extras = PROJECT["optional-dependencies"]
    if mode == "core":
        # The server extra's floors live here: the MCP SDK of the extras pass needs a newer
        # uvicorn (>=0.31.1) than ours, so that pass cannot hold them.
        lines = [floor(r) for r in (*PROJECT["dependencies"], *extras["server"])]
    elif mode == "tools":
        lines = [r for r in extras["dev"] if name(r) not in (*LATER_TOOLS, PROJECT["name"])]
    elif mode in ("extras", "features"):
        # The server, testing and dev extras are tools and hosts, not features with a floor.
        features = [e for e in extras if e not in ("server", "testing", "dev")]
        if mode == "features":
            lines = ["".join(f",{e}" for e in features)]  # appended to .[dev,server]
        else:
            lines = [floor(r) for e in features for r in extras[e]]
    elif mode == "skip":
        # A module that cannot import is ignored; --deselect works after collection.
        flag = {True: "--deselect=", False: "--ignore="}
        lines = [" ".join(f"{flag['::' in t]}{t}" for t in LATER_TESTS)]
    else:
        msg = f"unknown mode {mode!r}: core, tools, skip, extras or features"
        raise SystemExit(msg)
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "core")
