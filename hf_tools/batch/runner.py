"""The bulk runner: rows in, one call per row (or per N texts), records out, resumable.

Retries: the runner owns them. Its client is built with ``max_retries=0``, so every 429 and
503 comes back to the runner at once, which then cuts the shared :class:`Throttle` (all
calls slow down, not just the one that was refused), honours ``Retry-After`` for every
call, and tries the row again (up to ``max_attempts`` calls per row, and no longer than
``max_retry_wait`` seconds after its first failure: the settings' ``retry.max_total_wait``,
``--max-retry-wait``). Letting the client
retry inside a call would hide the congestion from the throttle and multiply the requests a
rate-limited server sees. Connection failures and 502/504 are retried with backoff; a model
loading pauses every call for its ``estimated_time``.

Failures: a row that fails for good is recorded with its error and the run goes on. A
failure the developer must act on (authentication, out of credit, configuration; the
toolset's ``"developer"`` kind) stops the run at once: calls in flight are dropped (a rerun
does them), everything written is kept.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from pydantic import BaseModel

from hf_tools.artifacts import summary
from hf_tools.batch.progress import Progress, Stats
from hf_tools.batch.sinks import Sink, id_key
from hf_tools.batch.sources import Source
from hf_tools.batch.throttle import Throttle
from hf_tools.errors import (
    ConfigurationError,
    HFConnectionError,
    HFTimeoutError,
    ModelLoadingError,
    RateLimitError,
    ServerError,
)
from hf_tools.toolset import DEVELOPER, Tool, ToolFailure, ToolResult

__all__ = ["LIST_TASKS", "BatchStopped", "Row", "Runner", "default_progress", "row_arguments"]

LIST_TASKS: dict[str, str] = {
    "feature-extraction": "vectors",
    "sentence-embeddings": "embeddings",
}
"""Tasks whose server takes N texts in one request, and the output field holding one entry
per text (the wire takes ``{"inputs": [str, ...]}``; the recordings show it)."""

_LIST_ARG = "texts"
_OVERLOADED = frozenset({502, 503, 504})
_MAX_RETRY_AFTER = 120.0
_BACKOFF_BASE, _BACKOFF_CAP = 0.5, 8.0
_LOADING_WAIT_CAP = 60.0


class BatchStopped(Exception):
    """A failure the developer must act on (auth, credit, configuration) stopped the run."""

    def __init__(self, failure: ToolFailure) -> None:
        super().__init__(failure.text)
        self.failure = failure


@dataclass
class Row:
    """One input row: its id, the arguments it maps to, or why it has none.

    ``rerun``: the output holds a failure for this id, and this run retries it.
    """

    id: Any
    args: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    rerun: bool = False


def row_arguments(
    row: Mapping[str, Any], fields: Iterable[str], mapping: Mapping[str, str]
) -> dict[str, Any]:
    """The tool arguments of ``row``: mapped columns, and columns named like an argument.

    Missing values (null, an empty CSV cell) are left out, so the argument's default holds.

    Raises:
        KeyError: a mapped column the row lacks.
    """
    args = {f: row[f] for f in fields if f not in mapping and row.get(f) is not None}
    for arg, column in mapping.items():
        if column not in row:
            raise KeyError(column)
        if row[column] is not None:
            args[arg] = row[column]
    return args


def _error(failure: ToolFailure) -> dict[str, Any]:
    error = failure.error
    return {
        "class": type(error).__name__ if error is not None else "ValidationError",
        "kind": failure.kind,
        "message": failure.text,
    }


def _output(result: ToolResult) -> dict[str, Any]:
    # Saved parts are named in "files"; the JSON then says "<N bytes>" instead of base64.
    if result.files:
        return {**summary(result.output), "files": [str(p) for p in result.files]}
    return result.data()


def _transient(error: Exception | None) -> bool:
    """Rate limits, overload, a loading model, timeouts: not caused by one row's input."""
    if isinstance(error, ServerError):
        return error.status_code in _OVERLOADED
    return isinstance(
        error, RateLimitError | ModelLoadingError | HFConnectionError | HFTimeoutError
    )


def _split(output: BaseModel, field_name: str, count: int) -> list[dict[str, Any]]:
    """One output per text from a list request's output (entry ``i`` of ``field_name``)."""
    entries = getattr(output, field_name)
    if len(entries) != count:
        msg = f"expected {count} entries, got {len(entries)}"
        raise ValueError(msg)
    return [
        output.model_copy(update={field_name: [entry]}).model_dump(mode="json") for entry in entries
    ]


class Runner:
    """One job: a tool, its rows, where the records go, how fast to go."""

    def __init__(
        self,
        tool: Tool,
        sink: Sink,
        *,
        mapping: Mapping[str, str],
        id_column: str | None,
        concurrency: int,
        rows_per_request: int = 1,
        max_rps: float | None = None,
        max_attempts: int = 8,
        max_retry_wait: float = 60.0,
        progress: TextIO | None = None,
        progress_interval: float | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        """Check the job's numbers (a ConfigurationError before any call).

        ``throttle``: one to share (a Ray worker keeps its own across batches); else a new one.
        """
        if concurrency < 1 or rows_per_request < 1 or max_attempts < 1:
            msg = "concurrency, rows per request and attempts must be at least 1"
            raise ConfigurationError(msg)
        if max_rps is not None and not max_rps > 0:
            msg = f"max_rps must be above 0, got {max_rps}"
            raise ConfigurationError(msg)
        task = tool.spec.task
        if rows_per_request > 1 and task not in LIST_TASKS:
            msg = (
                f"rows per request above 1 is for {' and '.join(LIST_TASKS)}; the {task}"
                " server takes one input per request"
            )
            raise ConfigurationError(msg)
        fields = set(tool.input_model.model_fields)
        unknown = sorted(set(mapping) - fields)
        if unknown:
            msg = f"{tool.name} has no argument(s) {unknown}; its arguments: {sorted(fields)}"
            raise ConfigurationError(msg)
        self.tool = tool
        self.sink = sink
        self.mapping = dict(mapping)
        self.fields = sorted(fields)
        self.id_column = id_column
        self.concurrency = concurrency
        self.rows_per_request = rows_per_request
        self.max_attempts = max_attempts
        self.max_retry_wait = max_retry_wait
        self.throttle = throttle if throttle is not None else Throttle(concurrency, max_rps)
        self.stats = Stats()
        self.progress = progress
        self.progress_interval = progress_interval

    # ----------------------------------------------------------------------- rows in

    def _id_column(self, first: Mapping[str, Any]) -> str | None:
        if self.id_column is not None:
            if self.id_column not in first:
                msg = f"no id column {self.id_column!r}; the rows have {sorted(first)}"
                raise ConfigurationError(msg)
            return self.id_column
        return next((c for c in ("custom_id", "id") if c in first), None)

    def _rows(self, source: Iterable[Mapping[str, Any]]) -> Iterator[Row]:
        """Rows to do: ids and arguments; rows whose id the output holds are skipped.

        When the sink retries failed rows, their ids are in ``sink.failed``, not ``done``:
        they are run, and counted in ``stats.rerun`` when recorded. Memory stays flat in the
        rows of the input: only the ids already in the output are held (a rerun's). Ids are
        meant to be unique; a repeated one is run and recorded again.
        """
        iterator = iter(source)
        first = next(iterator, None)
        if first is None:
            return
        missing = sorted(set(self.mapping.values()) - set(first))
        if missing:
            msg = f"no column(s) {missing} in the input; its columns: {sorted(first)}"
            raise ConfigurationError(msg)
        column = self._id_column(first)
        number = 0
        for row in _chain(first, iterator):
            row_id = row.get(column, number) if column is not None else number
            number += 1
            rerun = False
            if self.sink.done or self.sink.failed:
                key = id_key(row_id)
                if key in self.sink.done:
                    self.stats.skipped += 1
                    continue
                rerun = key in self.sink.failed  # retrying failed rows: this one failed before
            try:
                yield Row(row_id, row_arguments(row, self.fields, self.mapping), rerun=rerun)
            except KeyError as exc:
                yield Row(row_id, problem=f"the row has no column {exc.args[0]!r}", rerun=rerun)

    async def _requests(self, rows: Iterator[Row]) -> AsyncIterator[list[Row]]:
        """Rows grouped into requests: N texts of otherwise equal arguments, else one each."""
        group: list[Row] = []
        common: dict[str, Any] | None = None
        for row in rows:
            listable = (
                self.rows_per_request > 1
                and row.problem is None
                and isinstance(row.args.get(_LIST_ARG), str)
            )
            if not listable:
                yield [row]
                continue
            rest = {k: v for k, v in row.args.items() if k != _LIST_ARG}
            if group and rest != common:
                yield group
                group = []
            group.append(row)
            common = rest
            if len(group) >= self.rows_per_request:
                yield group
                group = []
        if group:
            yield group

    # ------------------------------------------------------------------------- calls

    def _retry_wait(self, failure: ToolFailure, attempt: int, started: float) -> float | None:
        """Seconds to wait before this row's next try (the throttle adds its pause); None: final."""
        error = failure.error
        backoff = random.random() * min(_BACKOFF_CAP, _BACKOFF_BASE * 2.0**attempt)
        if isinstance(error, RateLimitError) or (
            isinstance(error, ServerError) and error.status_code == 503
        ):
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None:
                retry_after = min(retry_after, _MAX_RETRY_AFTER)
            self.throttle.throttled(started, retry_after if retry_after else backoff)
            self.stats.throttled += 1
            return 0.0
        if isinstance(error, ModelLoadingError):
            self.throttle.pause(min(error.estimated_time or backoff, _LOADING_WAIT_CAP))
            return 0.0
        if isinstance(error, HFConnectionError) or (
            isinstance(error, ServerError) and error.status_code in _OVERLOADED
        ):
            return backoff
        return None

    async def _call(self, args: dict[str, Any]) -> ToolResult | ToolFailure:
        """One request with the runner's retries; a developer failure raises BatchStopped."""
        attempt = 0
        first_failure: float | None = None
        while True:
            started = await self.throttle.acquire()
            self.stats.requests += 1
            try:
                result = await self.tool.arun(args)
            except ToolFailure as failure:
                self.throttle.release()
                if failure.kind == DEVELOPER:
                    raise BatchStopped(failure) from failure.error
                wait = self._retry_wait(failure, attempt, started)
                attempt += 1
                now = time.monotonic()
                first_failure = now if first_failure is None else first_failure
                late = now - first_failure > self.max_retry_wait
                if wait is None or attempt >= self.max_attempts or late:
                    return failure
                self.stats.retried += 1
                if wait > 0:
                    await asyncio.sleep(wait)
                continue
            self.throttle.release()
            self.throttle.succeeded()
            return result

    def _record(self, row: Row, outcome: dict[str, Any] | ToolFailure | str) -> None:
        self.stats.rerun += row.rerun
        if isinstance(outcome, dict):
            self.sink.write({"id": row.id, "output": outcome})
            self.stats.done += 1
            return
        if isinstance(outcome, str):
            error = {"class": "InputError", "kind": "fix_arguments", "message": outcome}
        else:
            error = _error(outcome)
        self.sink.write({"id": row.id, "error": error})
        self.stats.failed += 1

    async def _one(self, row: Row) -> None:
        if row.problem is not None:
            self._record(row, row.problem)
            return
        outcome = await self._call(row.args)
        self._record(row, _output(outcome) if isinstance(outcome, ToolResult) else outcome)

    async def _group(self, rows: list[Row]) -> None:
        if len(rows) == 1:
            await self._one(rows[0])
            return
        args = {**rows[0].args, _LIST_ARG: [row.args[_LIST_ARG] for row in rows]}
        outcome = await self._call(args)
        if isinstance(outcome, ToolResult):
            try:
                outputs = _split(outcome.output, LIST_TASKS[self.tool.spec.task], len(rows))
            except ValueError:
                outputs = []
            if outputs:
                for row, output in zip(rows, outputs, strict=True):
                    self._record(row, output)
                return
            # The answer did not split: one by one below.
        elif _transient(outcome.error):
            # Rate limits, overload, timeouts: one by one would only multiply the load.
            for row in rows:
                self._record(row, outcome)
            return
        for row in rows:  # one row's input may be the cause: each gets its own answer or error
            await self._one(row)

    async def _worker(self, queue: asyncio.Queue[list[Row] | None]) -> None:
        while (rows := await queue.get()) is not None:
            await self._group(rows)

    async def _produce(self, source: Source, queue: asyncio.Queue[list[Row] | None]) -> None:
        async for rows in self._requests(self._rows(source)):
            await queue.put(rows)
        for _ in range(self.concurrency):
            await queue.put(None)

    async def run(self, source: Source) -> Stats:
        """Do every row not done yet; returns the counters.

        Raises:
            BatchStopped: a failure the developer must act on (what was written is kept).
            ConfigurationError: the input does not fit the job (before any call).
        """
        self.stats = Stats(total=source.total)
        queue: asyncio.Queue[list[Row] | None] = asyncio.Queue(maxsize=2 * self.concurrency)
        reporter = None
        if self.progress is not None:
            reporter = Progress(self.stats, self.progress, interval=self.progress_interval)
        try:
            async with asyncio.TaskGroup() as group:
                if reporter is not None:
                    ticker = group.create_task(reporter.run())
                workers = [group.create_task(self._worker(queue)) for _ in range(self.concurrency)]
                group.create_task(self._produce(source, queue))
                await asyncio.gather(*workers)
                if reporter is not None:
                    ticker.cancel()
        except* BatchStopped as stopped:
            raise stopped.exceptions[0] from None
        except* ConfigurationError as bad:
            raise bad.exceptions[0] from None
        finally:
            if reporter is not None:
                reporter.finish()
        return self.stats


def _chain(first: Mapping[str, Any], rest: Iterator[Mapping[str, Any]]) -> Iterator[Any]:
    yield first
    yield from rest


def default_progress() -> TextIO | None:
    """The standard error stream when it is a terminal (the API's default), else None."""
    return sys.stderr if sys.stderr.isatty() else None
