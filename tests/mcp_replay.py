"""Test-only: run ``hf-tools mcp`` in this process while replaying cassettes, offline.

``HF_TOOLS_MCP_CASSETTES=a/success,b/success python -m tests.mcp_replay <hf-tools mcp flags>``
The tests start real server processes with it (stdio and HTTP); the runtime package never
reads that variable. Job polls do not wait, as in the in-process tests (tests/conftest.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hf_tools.http.send
from hf_tools.mcp.cli import main
from hf_tools.testing import DUMMY_TOKEN, use_cassette

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
CASSETTES_ENV = "HF_TOOLS_MCP_CASSETTES"


async def _no_wait(seconds: float) -> None:
    return None


def run(argv: list[str]) -> int:
    """Serve with the cassettes of ``$HF_TOOLS_MCP_CASSETTES`` (any order, replayed as needed)."""
    names = [n for n in os.environ.get(CASSETTES_ENV, "").split(",") if n]
    os.environ["HF_TOKEN"] = DUMMY_TOKEN
    hf_tools.http.send._sleep = lambda seconds: None
    hf_tools.http.send._asleep = _no_wait
    paths = [f"{name}.yaml" for name in names]
    with use_cassette(*paths, library_dir=CASSETTES, all_played=False, allow_playback_repeats=True):
        return main(argv)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
