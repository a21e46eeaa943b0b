"""Bulk runs: one task over a whole dataset, with progress, adaptive rate limits and resume.

::

    from hf_tools import batch

    summary = batch.run(
        "text-classification", "tickets.csv", output="labels.jsonl", mapping={"text": "body"}
    )
    summary.done, summary.failed, summary.skipped

``data`` is a file (``.jsonl``, ``.csv``, ``.parquet``, read as a stream) or any iterable of
dicts (a list, a generator, a ``datasets.Dataset``). With ``output``, records go to that file
(JSONL or Parquet) and a rerun skips the rows already there (``retry_failed=True``: but for the
failed ones, whose new records replace theirs); without, they come back in
``summary.records``. The ``hf-tools batch`` command wraps :func:`run`. Imports no LangChain.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from hf_tools.batch.progress import Stats
from hf_tools.batch.runner import LIST_TASKS, BatchStopped, Runner, default_progress
from hf_tools.batch.sinks import JobMismatchError, MemorySink, Sink, sink_for
from hf_tools.batch.sources import open_source
from hf_tools.config import Settings
from hf_tools.errors import ConfigurationError
from hf_tools.tasks import get_spec
from hf_tools.toolset import Tool, Toolset

__all__ = [
    "LIST_TASKS",
    "BatchStopped",
    "BatchSummary",
    "JobMismatchError",
    "arun",
    "batch_settings",
    "job_fingerprint",
    "run",
    "with_model",
]


@dataclass
class BatchSummary:
    """What a run did.

    Attributes:
        done: rows answered in this run.
        failed: rows recorded with an error in this run.
        skipped: rows already in the output (or repeated ids), not called again.
        rerun: rows that had failed in the output, run again (``retry_failed``); each
            is also counted in ``done`` or ``failed``, by its new outcome.
        retried: calls tried again (rate limits, overload, connection failures).
        throttled: answers that were 429 or 503 (overloaded).
        requests: calls sent.
        seconds: wall time.
        stopped: why the run stopped early (auth, credit, configuration), else None.
        records: the records, when no output file was given.
    """

    done: int
    failed: int
    skipped: int
    retried: int
    throttled: int
    requests: int
    seconds: float
    stopped: str | None = None
    records: list[dict[str, Any]] | None = field(default=None, repr=False)
    rerun: int = 0

    @property
    def ok(self) -> bool:
        """Every row answered and the run not stopped."""
        return self.failed == 0 and self.stopped is None


def job_fingerprint(tool: Tool, mapping: Mapping[str, str]) -> dict[str, Any]:
    """What makes two runs the same job: task, model, provider, mapped arguments."""
    return {
        "task": tool.spec.task,
        "model": tool.model,
        "provider": tool.settings.provider_for(tool.spec.task),
        "map": dict(sorted(mapping.items())),
    }


def with_model(arguments: Mapping[str, Any], task: str, model: str | None) -> dict[str, Any]:
    """Settings arguments with ``model`` serving ``task`` (added to any ``models`` given)."""
    out = dict(arguments)
    if model:
        out["models"] = {**(out.get("models") or {}), task: model}
    return out


def batch_settings(settings: Settings | None, **arguments: Any) -> Settings:
    """Settings whose client never retries: the runner owns retries (see the runner module)."""
    if settings is None:
        arguments = {k: v for k, v in arguments.items() if v is not None}
        settings = Settings.create(**arguments)
    return replace(settings, retry=replace(settings.retry, max_retries=0))


def _summary(stats: Stats, stopped: str | None, sink: Sink) -> BatchSummary:
    return BatchSummary(
        done=stats.done,
        failed=stats.failed,
        skipped=stats.skipped,
        retried=stats.retried,
        throttled=stats.throttled,
        requests=stats.requests,
        seconds=stats.seconds,
        stopped=stopped,
        records=sink.records if isinstance(sink, MemorySink) else None,
        rerun=stats.rerun,
    )


async def arun(
    task: str,
    data: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    *,
    output: str | os.PathLike[str] | None = None,
    model: str | None = None,
    provider: str | None = None,
    mapping: Mapping[str, str] | None = None,
    id_column: str | None = None,
    concurrency: int = 8,
    rows_per_request: int = 1,
    max_rps: float | None = None,
    force: bool = False,
    retry_failed: bool = False,
    allow_files: str | os.PathLike[str] | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 (a setting: one call's whole time)
    max_attempts: int = 8,
    max_retry_wait: float | None = None,
    progress: TextIO | bool | None = None,
    progress_interval: float | None = None,
    settings: Settings | None = None,
    **settings_arguments: Any,
) -> BatchSummary:
    """Run ``task`` over every row of ``data`` not done yet (see the module docstring).

    Args:
        task: task id or tool name.
        data: a ``.jsonl``/``.csv``/``.parquet`` path, or an iterable of dicts.
        output: ``.jsonl`` or ``.parquet`` file; None keeps records in ``summary.records``.
        model: model id or endpoint URL (default: the task's).
        provider: who serves it (``hf-inference``, ``auto``, ``fal-ai``...).
        mapping: ``{argument: column}``; columns named like an argument are used as they are.
        id_column: the id column (default ``custom_id``, then ``id``, else the row number).
        concurrency: calls in flight at most (the throttle starts here, backs off, regrows).
        rows_per_request: texts per request for :data:`LIST_TASKS`.
        max_rps: requests per second at most.
        force: write into an output that holds another job's rows.
        retry_failed: run again the rows whose record in ``output`` is an error (every kind
            of failure); each one's new record replaces the old line.
        allow_files: folder media paths in the rows may come from.
        output_dir: folder binary outputs (images, audio) are saved in.
        timeout: seconds one call may take (all of it).
        max_attempts: calls per row at most (rate limits and overloads are retried).
        max_retry_wait: seconds a row may keep retrying after its first failure (default:
            the settings' ``retry.max_total_wait``, 60).
        progress: a stream for progress (True: stderr; default: stderr on a terminal).
        progress_interval: seconds between progress updates.
        settings: ready settings (else built from the arguments above and
            ``settings_arguments``).
        **settings_arguments: more arguments of :meth:`Settings.create` (``base_url``...).

    Raises:
        ConfigurationError: the job cannot run (before any call), or ``retry_failed``
            without an ``output``; JobMismatchError: the output holds another job's rows.
    """
    if retry_failed and output is None:
        msg = "retry_failed retries the failed rows of an output: give the output"
        raise ConfigurationError(msg)
    spec = get_spec(task)
    settings = batch_settings(
        settings,
        provider=provider,
        allowed_roots=allow_files,
        output_dir=output_dir,
        timeout=timeout,
        **with_model(settings_arguments, spec.task, model),
    )
    mapping = dict(mapping or {})
    stream = default_progress() if progress is None else progress
    if stream is True:
        import sys

        stream = sys.stderr
    toolset = Toolset(settings, tasks=[spec.task])
    try:
        toolset.require_token()  # before the output is opened, not as the first row's failure
        tool = toolset.get(spec.task)
        sink: Sink = (
            MemorySink()
            if output is None
            else sink_for(
                Path(output),
                job_fingerprint(tool, mapping),
                force=force,
                retry_failed=retry_failed,
            )
        )
        runner = Runner(
            tool,
            sink,
            mapping=mapping,
            id_column=id_column,
            concurrency=concurrency,
            rows_per_request=rows_per_request,
            max_rps=max_rps,
            max_attempts=max_attempts,
            max_retry_wait=(
                max_retry_wait if max_retry_wait is not None else settings.retry.max_total_wait
            ),
            progress=stream or None,
            progress_interval=progress_interval,
        )
        source = open_source(data)
        sink.open()
        stopped = None
        try:
            stats = await runner.run(source)
        except BatchStopped as exc:
            stats, stopped = runner.stats, exc.failure.text
        finally:
            sink.close()
        return _summary(stats, stopped, sink)
    finally:
        await toolset.aclose()


def run(task: str, data: Any, **options: Any) -> BatchSummary:
    """Blocking :func:`arun` (same arguments); not for use inside a running event loop."""
    return asyncio.run(arun(task, data, **options))
