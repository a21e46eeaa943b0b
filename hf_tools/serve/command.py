"""``hf-tools serve``: the server's flags, and a one-line hint when its extra is not installed.

Imports neither Starlette nor uvicorn until the server runs, so the command line can list and
parse ``serve`` without the ``server`` extra.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence

from hf_tools.serve.flags import DESCRIPTION, add_server_flags, build_parser

__all__ = ["DESCRIPTION", "INSTALL_HINT", "configure", "main", "missing_packages", "run"]

INSTALL_HINT = 'pip install "hf-tools[server]"'
_NEEDS = ("starlette", "uvicorn")


def missing_packages() -> list[str]:
    """The server's packages that are not installed."""
    return [name for name in _NEEDS if importlib.util.find_spec(name) is None]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the server's flags to ``parser`` (the ``serve`` subcommand's)."""
    add_server_flags(parser)


def run(ns: argparse.Namespace) -> int:
    """Serve as ``ns`` says; 2 with the install hint when the ``server`` extra is missing."""
    missing = missing_packages()
    if missing:
        print(
            f"hf-tools serve needs {' and '.join(missing)} (the server extra): {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 2
    from hf_tools.serve.main import serve

    return serve(ns)


def main(argv: Sequence[str] | None = None) -> int:
    """``hf-tools serve`` on its own: parse ``argv`` (default: the process's), then :func:`run`."""
    return run(build_parser().parse_args(argv))
