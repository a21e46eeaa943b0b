"""``hf-tools batch``: its flags here, its run in :mod:`hf_tools.batch.cli`.

Importing :mod:`hf_tools.batch` loads the runner, the toolset and the HTTP stack; the flags
need none of them, so ``hf-tools batch --help`` prints without them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hf_tools.cli.flags import add_settings_flags

__all__ = ["HELP", "configure"]

HELP = "run one task over a JSONL, CSV or Parquet file (progress, rate limits, resume)"


def configure(parser: argparse.ArgumentParser) -> None:
    """The ``batch`` subcommand's flags, then the settings' (the CLI's one table)."""
    parser.add_argument("task", help="task id or tool name, e.g. text-classification")
    parser.add_argument("--input", required=True, type=Path, help=".jsonl, .csv or .parquet")
    parser.add_argument(
        "--output",
        required=True,
        type=Path,
        help=".jsonl or .parquet (rerun with the same output to resume); with --ray a folder",
    )
    parser.add_argument("--model", help="model id or endpoint URL")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="ARG=COLUMN",
        help="fill argument ARG from column COLUMN (repeatable); same-named columns need none",
    )
    parser.add_argument(
        "--id", dest="id_column", metavar="COLUMN", help="id column (default custom_id, id, row)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight at most (8)")
    parser.add_argument(
        "--rows-per-request",
        type=int,
        default=1,
        metavar="N",
        help="texts per request (feature-extraction, sentence-embeddings)",
    )
    parser.add_argument("--max-rps", type=float, metavar="R", help="requests per second at most")
    parser.add_argument(
        "--force", action="store_true", help="add rows to an output holding another job"
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="run again the rows whose record in the output is an error; the new record"
        " replaces the old line (one line per row stays)",
    )
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run on a Ray cluster (an address, or auto: this machine's, else a new local one)",
    )
    parser.add_argument(
        "--ray-workers", type=int, default=2, metavar="N", help="Ray workers (with --ray; 2)"
    )
    add_settings_flags(
        parser,
        helps={
            "--max-retries": "calls of one row after its first, on 429/503/connection"
            " failures (default 7: 8 calls)",
            "--allow-files": "let rows name local media in DIR too (repeatable; default: the"
            " working directory only)",
            "--output-dir": "save generated images, audio and masks in DIR (default: base64"
            " inside the records)",
        },
    )
