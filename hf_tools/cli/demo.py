"""``hf-tools demo``: replay a recorded agent session, offline (needs the testing extra)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hf_tools.cli.agent import GO_LIVE

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """The flags of ``demo``."""
    parser.add_argument("--cassettes", help="cassette folder (default: the checkout's)")


def _cassette_dir(given: str | None) -> Path | None:
    if given:
        return Path(given)
    try:
        from hf_tools.testing import cassette_library
    except ImportError:  # no vcrpy: run() says which extra brings it
        return None
    try:
        return cassette_library()
    except FileNotFoundError:
        return None


def run(ns: argparse.Namespace) -> int:
    """Replay the demo; 2 when the recordings or the replay engine are missing."""
    try:
        import vcr  # noqa: F401  (the replay engine, the testing extra)
    except ImportError:
        print(
            "the demo replays cassettes with vcrpy: pip install 'hf-tools[testing]'",
            file=sys.stderr,
        )
        return 2
    library = _cassette_dir(ns.cassettes)
    if library is None or not (library / "agent" / "demo.yaml").is_file():
        print(
            "the demo replays recordings kept in the hf-tools checkout (cassettes/, "
            "tests/fixtures/): run it from the checkout (make demo) or pass --cassettes "
            f"/path/to/hf-tools/cassettes. To go live instead: {GO_LIVE}",
            file=sys.stderr,
        )
        return 2
    from hf_tools.demo import run_demo

    print(
        "hf-tools demo: replays a recorded agent session (cassettes/), no network, no token.\n"
        "A chat model (HFChatModel) picks Hugging Face tools; each step shows the tool it\n"
        "chose, the arguments and the short result it read back, then the final answer.\n"
        f"To go live: {GO_LIVE}\n"
    )
    run_demo(library, sys.stdout)
    return 0
