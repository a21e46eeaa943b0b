"""``hf-tools batch TASK --input FILE --output FILE``: the command over :func:`hf_tools.batch.arun`.

A lazily loaded subcommand of ``hf-tools`` (``configure`` / ``run``), also
``python -m hf_tools.batch``. It takes the settings flags of every command (the CLI's one
table). The runner owns retries (:mod:`hf_tools.batch.runner`): ``--max-retries N`` gives
each row N + 1 calls (default 8), ``--max-retry-wait`` bounds how long a row keeps retrying.
Media paths in the rows are read from the working directory and the ``--allow-files``
folders.

Exit codes: 0 every row answered; 1 a row failed, or a failure the developer must act on
(authentication, credit) stopped the run; 2 a usage error (nothing was called); 130
interrupted (Ctrl-C; what was done is kept).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from hf_tools.cli.batch import HELP, configure
from hf_tools.cli.flags import chosen_roots, settings_from
from hf_tools.cli.messages import for_person
from hf_tools.errors import ConfigurationError

__all__ = ["configure", "main", "parse_mapping", "run", "settings_arguments"]

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it


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


def settings_arguments(ns: argparse.Namespace) -> dict[str, Any]:
    """The :meth:`Settings.create` arguments of the parsed flags, with the task's model."""
    from hf_tools.batch import with_model
    from hf_tools.tasks import get_spec

    arguments = settings_from(ns)
    arguments["allowed_roots"] = chosen_roots(ns)
    return with_model(arguments, get_spec(ns.task).task, ns.model)


def run(ns: argparse.Namespace) -> int:
    """Run the parsed command; returns the exit code."""
    from hf_tools import batch
    from hf_tools.config import Settings

    try:
        mapping = parse_mapping(ns.map)
        arguments = settings_arguments(ns)
        if ns.ray:
            if ns.retry_failed:
                msg = "--retry-failed resumes an output; a Ray run does not resume"
                raise ConfigurationError(msg)
            from hf_tools.batch.on_ray import run_on_ray

            code: int = run_on_ray(ns, mapping, arguments)
            return code
        summary = asyncio.run(
            batch.arun(
                ns.task,
                ns.input,
                output=ns.output,
                mapping=mapping,
                id_column=ns.id_column,
                concurrency=ns.concurrency,
                rows_per_request=ns.rows_per_request,
                max_rps=ns.max_rps,
                force=ns.force,
                retry_failed=ns.retry_failed,
                max_attempts=8 if ns.max_retries is None else ns.max_retries + 1,
                progress=sys.stderr,
                settings=Settings.create(**arguments),
            )
        )
    except ConfigurationError as exc:
        sys.stderr.write(f"hf-tools batch: {for_person(str(exc))}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"\ninterrupted: the rows done are kept in {ns.output}; rerun to go on\n")
        return EXIT_INTERRUPTED
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
    parser = argparse.ArgumentParser(prog="hf-tools batch", description=HELP)
    configure(parser)
    return run(parser.parse_args(argv))
