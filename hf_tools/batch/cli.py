"""``hf-tools batch TASK --input FILE --output FILE``: the command over :func:`hf_tools.batch.run`.

Exit codes: 0 every row answered; 1 a row failed, or a failure the developer must act on
(authentication, credit) stopped the run; 2 a usage error (nothing was called).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from hf_tools.errors import ConfigurationError

__all__ = ["add_arguments", "main", "parse_mapping", "run_command"]


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``["text=body", ...]`` -> ``{"text": "body"}``.

    Raises:
        ConfigurationError: a pair without ``=``, or an argument mapped twice.
    """
    mapping: dict[str, str] = {}
    for pair in pairs:
        arg, sep, column = pair.partition("=")
        if not sep or not arg.strip() or not column.strip():
            msg = f"--map {pair!r}: write ARGUMENT=COLUMN, e.g. --map text=body"
            raise ConfigurationError(msg)
        if arg.strip() in mapping:
            msg = f"--map {arg.strip()} is given twice"
            raise ConfigurationError(msg)
        mapping[arg.strip()] = column.strip()
    return mapping


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``batch`` subcommand's flags."""
    parser.add_argument("task", help="task id or tool name, e.g. text-classification")
    parser.add_argument("--input", required=True, type=Path, help=".jsonl, .csv or .parquet")
    parser.add_argument(
        "--output",
        required=True,
        type=Path,
        help=".jsonl or .parquet (rerun with the same output to resume); with --ray a folder",
    )
    parser.add_argument("--model", help="model id or endpoint URL")
    parser.add_argument("--provider", help="auto, hf-inference, fal-ai, ... (default hf-inference)")
    parser.add_argument("--base-url", help="a hf-inference-format server (default: the router)")
    parser.add_argument("--bill-to", metavar="ORG", help="sent as X-HF-Bill-To (an org pays)")
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
        "--allow-files", type=Path, metavar="DIR", help="media paths in rows may come from here"
    )
    parser.add_argument("--output-dir", type=Path, help="save images, masks, audio here")
    parser.add_argument("--timeout", type=float, help="seconds one call may take in all")
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run on a Ray cluster (an address, or auto for a local one); writes Parquet",
    )
    parser.add_argument(
        "--ray-workers", type=int, default=2, metavar="N", help="Ray workers (with --ray; 2)"
    )


def run_command(ns: argparse.Namespace) -> int:
    """Run the parsed command; returns the exit code."""
    from hf_tools import batch

    try:
        mapping = parse_mapping(ns.map)
        if ns.ray:
            from hf_tools.ray import run_on_ray

            code: int = run_on_ray(ns, mapping)
            return code
        summary = asyncio.run(
            batch.arun(
                ns.task,
                ns.input,
                output=ns.output,
                model=ns.model,
                provider=ns.provider,
                base_url=ns.base_url,
                bill_to=ns.bill_to,
                mapping=mapping,
                id_column=ns.id_column,
                concurrency=ns.concurrency,
                rows_per_request=ns.rows_per_request,
                max_rps=ns.max_rps,
                force=ns.force,
                allow_files=ns.allow_files,
                output_dir=ns.output_dir,
                timeout=ns.timeout,
                progress=sys.stderr,
            )
        )
    except ConfigurationError as exc:
        sys.stderr.write(f"hf-tools batch: {exc}\n")
        return 2
    if summary.stopped is not None:
        sys.stderr.write(
            f"stopped: {summary.stopped}\nThe rows done are kept in {ns.output}; fix this and"
            " rerun the same command to do the rest.\n"
        )
        return 1
    if summary.failed:
        errors = ns.output.with_name(ns.output.name + ".errors.jsonl")
        sys.stderr.write(f"{summary.failed} row(s) failed; their errors: {errors}\n")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hf_tools.batch``: the same as ``hf-tools batch``."""
    parser = argparse.ArgumentParser(prog="hf-tools batch", description=__doc__)
    add_arguments(parser)
    return run_command(parser.parse_args(argv))
