"""Start-up: each command's parser and ``--help`` load only what argparse needs.

Checked by what a fresh interpreter imported, not by the clock (the machine may be loaded):
LangChain, the MCP SDK, the server stack, pyarrow, pydantic, the HTTP stack and the task
modules all load when a command runs, never to print its help.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from benchmarks.mcp_stdio import OPENING, rpc
from hf_tools.cli.entry import COMMANDS

# Top-level packages (and hf_tools modules) that --help must not import.
HEAVY = (
    "langchain_core",
    "langsmith",
    "mcp",
    "uvicorn",
    "starlette",
    "pyarrow",
    "pydantic",
    "httpx2",
    "hf_tools.tasks",
    "hf_tools.config",
    "hf_tools.toolset",
)

_SCRIPT = """\
import json, sys
from hf_tools.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = {heavy!r}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy or m in heavy)),
      file=sys.stderr)
"""


def _loaded(*argv: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_TOKEN", "HF_TOOLS_"))}
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(heavy=HEAVY), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: hf-tools"), out.stdout[:200]
    loaded: list[str] = json.loads(out.stderr.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_help_imports_nothing_heavy(command: str) -> None:
    assert _loaded(command, "--help") == []


def test_every_command_s_parser_builds_without_heavy_imports() -> None:
    code = (
        "import sys\n"
        "from hf_tools.cli.entry import COMMANDS, build_parser\n"
        "for name in COMMANDS:\n"
        "    build_parser(name).format_help()\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


# The HTTP stack: a call needs it, listing the tools does not.
HTTP_STACK = ("httpx2", "httpcore2", "h11", "anyio", "trio")

_LIST_TOOLS = """\
import json, sys
from hf_tools.toolset import Toolset
toolset = Toolset(api_key="hf_x")
for tool in toolset.tools:
    tool.name, tool.description, tool.json_schema(), tool.definition()
assert toolset.schema_bytes() > 0 and toolset.names
heavy = {heavy!r}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def test_listing_the_tools_imports_no_http_stack() -> None:
    # `hf-tools list` and an MCP server's tools/list: the clients are made at the first call.
    out = subprocess.run(
        [sys.executable, "-c", _LIST_TOOLS.format(heavy=HTTP_STACK)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(out.stdout) == []


# What `hf-tools mcp` must not load before a tools/call: our HTTP layer (httpcore2 brings trio
# when it is installed: 0.3 to 0.45 s) and LangChain. The MCP SDK loads httpx2 and anyio itself.
MCP_UNNEEDED = ("httpcore2", "h11", "trio", "langchain_core", "langchain", "hf_tools.http")

_MCP_SERVER = """\
import atexit, json, sys
unneeded = {unneeded!r}
atexit.register(lambda: print(json.dumps(sorted(
    m for m in sys.modules if m.split(".")[0] in unneeded or m.startswith(unneeded)
)), file=sys.stderr))
from hf_tools.cli import main
sys.exit(main(["mcp"]))
"""


def test_the_mcp_server_answers_initialize_and_lists_its_tools_without_the_http_stack() -> None:
    pytest.importorskip("mcp", reason="the mcp extra is not installed (make test-lowest)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_TOKEN", "HF_TOOLS_"))}
    with subprocess.Popen(
        [sys.executable, "-c", _MCP_SERVER.format(unneeded=MCP_UNNEEDED)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**env, "HF_TOKEN": "hf_x"},  # with a token, as users start it: "auto" tools
    ) as server:
        assert server.stdin is not None and server.stdout is not None
        timer = threading.Timer(120, server.kill)  # bounded: a hung server is killed
        timer.start()
        try:
            server.stdin.write(b"".join(rpc(message) for message in OPENING))
            server.stdin.flush()
            # stdin stays open until both answers are in: at its end the server stops, and
            # may drop a request still in flight (as a client that hangs up would).
            answers = [json.loads(server.stdout.readline()) for _ in range(2)]
            server.stdin.close()
            err = server.stderr.read() if server.stderr else b""
            code = server.wait()
        finally:
            timer.cancel()
    assert code == 0, err
    assert [a["id"] for a in answers] == [1, 2]
    assert answers[1]["result"]["tools"]
    assert json.loads(err.strip().splitlines()[-1]) == []
