"""``hf-tools mcp`` over stdio as a client opens it: ``initialize``, then ``tools/list``.

Light (the standard library only): ``benchmarks.run`` times the exchange, and
``tests/test_cli_startup.py`` sends the same messages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from typing import Any

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
OPENING = (INITIALIZE, INITIALIZED, TOOLS_LIST)
"""What a client sends first: initialize (answered as id 1), then tools/list (id 2)."""


def rpc(message: dict[str, Any]) -> bytes:
    """One message as the stdio transport frames it: a line of JSON."""
    return (json.dumps(message) + "\n").encode()


def mcp_exchange(argv: Iterable[str]) -> tuple[float, float, int, int]:
    """Start ``hf-tools mcp ARGV`` on stdio: ms to its ``initialize`` answer, ms to a
    ``tools/list`` answer, the tools listed and the listing's bytes (its JSON-RPC ``result``).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_TOOLS_", "HF_TOKEN"))}
    env["HF_TOKEN"] = "hf_bench"  # a token makes "auto" the default provider; no call is made
    start = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "hf_tools.cli", "mcp", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    ) as server:
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(rpc(INITIALIZE))
        server.stdin.flush()
        server.stdout.readline()
        initialized = time.perf_counter()
        server.stdin.write(rpc(INITIALIZED))
        asked = time.perf_counter()
        server.stdin.write(rpc(TOOLS_LIST))
        server.stdin.flush()
        answer = server.stdout.readline()
        listed = time.perf_counter()
        server.stdin.close()
        server.wait(timeout=30)
    result = json.loads(answer)["result"]
    size = len(json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode())
    return (initialized - start) * 1e3, (listed - asked) * 1e3, len(result["tools"]), size
