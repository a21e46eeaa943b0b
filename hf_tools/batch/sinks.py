"""Rows out: one JSON record per row, appended and flushed, resumable after any crash.

A record is ``{"id": ..., "output": {...}}`` or ``{"id": ..., "error": {"class", "kind",
"message"}}``; failed rows also go to ``FILE.errors.jsonl``. Next to the output,
``FILE.job.json`` holds the job's fingerprint (task, model, provider, mapped arguments): a
rerun with another job refuses to mix its rows in (unless forced).

Each record is one ``write`` of one line, flushed: a ``kill -9`` leaves at most a partial last
line, cut off when the output is opened again. Parquet cannot be appended to, so a Parquet
output keeps its rows in a JSONL journal (``FILE.rows.jsonl``, the one resume reads) and is
rewritten from it, batch by batch, when the run ends.

Retrying failed rows (``retry_failed``): the rows whose record is an error are run again,
and their new records go to a journal beside the output (``FILE.retry.jsonl``), never over
the old lines. When the run ends the output is rewritten once (a temporary file, then a
rename): the lines of every id in the journal are dropped, the journal's lines added, the
journal removed. A run killed before that keeps the old output whole plus the journal, and
the next open (with or without ``retry_failed``) does the same merge first; the merge can be
repeated, so a kill during it loses nothing either. ``FILE.errors.jsonl`` is rewritten the
same way, so it lists the rows still failing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from hf_tools.batch.sources import file_format, parquet_module
from hf_tools.errors import ConfigurationError

__all__ = [
    "JobMismatchError",
    "JsonlSink",
    "MemorySink",
    "ParquetSink",
    "Sink",
    "id_key",
    "parquet_columns",
    "sink_for",
    "write_parquet",
]

_PARQUET_BATCH = 4096


class JobMismatchError(ConfigurationError):
    """The output holds rows of another job (its fingerprint differs)."""


def id_key(row_id: Any) -> str:
    """The key a row id is compared by: its JSON text (``1`` and ``"1"`` differ)."""
    return json.dumps(row_id, sort_keys=True, ensure_ascii=False)


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


class Sink:
    """Where records go; ``done`` holds the id keys to skip, ``failed`` those run again."""

    done: set[str]
    failed: set[str]

    def open(self) -> None:
        """Prepare to write (check, repair, read what is done)."""

    def write(self, record: dict[str, Any]) -> None:
        """Keep one row's record."""
        raise NotImplementedError

    def close(self) -> None:
        """Finish (flush, convert)."""


class MemorySink(Sink):
    """Records kept in a list (the Python API without an output file; the Ray workers)."""

    def __init__(self) -> None:
        self.done = set()
        self.failed = set()
        self.records: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record``."""
        self.records.append(record)


def _repair(path: Path) -> None:
    """Cut a partial last line (a write a crash interrupted)."""
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        # Walk back to the last complete line; files are read in 64 KiB steps.
        end = size
        while end > 0:
            start = max(0, end - 65536)
            handle.seek(start)
            chunk = handle.read(end - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                handle.truncate(start + cut + 1)
                return
            end = start
        handle.truncate(0)


def _records(path: Path) -> Iterator[dict[str, Any]]:
    return (record for _, record in _lines(path))


def _lines(path: Path) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """Each complete line of ``path`` (none if it is missing) with its record."""
    if not path.is_file():
        return
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                yield line, json.loads(line)


def _merge(target: Path, journal: Path, ids: set[str], *, errors_only: bool = False) -> None:
    """Rewrite ``target`` without the lines of ``ids``, then add the journal's lines.

    ``errors_only`` adds only the journal's failures (for the errors file). Written to a
    temporary file, synced, renamed over ``target``: a kill leaves the old file or the new.
    Repeating it gives the same file (the journal's ids are dropped before they are added).
    """
    partial = target.with_name(target.name + ".partial")
    with partial.open("wb") as out:
        for line, record in _lines(target):
            if id_key(record.get("id")) not in ids:
                out.write(line)
        for line, record in _lines(journal):
            if not errors_only or "error" in record:
                out.write(line)
        out.flush()
        os.fsync(out.fileno())
        empty = out.tell() == 0
    if empty:  # an errors file with no errors left: none, as after a run without errors
        partial.unlink()
        target.unlink(missing_ok=True)
        return
    os.replace(partial, target)


class JsonlSink(Sink):
    """Append-and-flush JSONL with a job fingerprint beside it and an errors file."""

    def __init__(
        self,
        path: Path,
        job: dict[str, Any],
        *,
        force: bool = False,
        retry_failed: bool = False,
    ) -> None:
        self.path = path
        self.job = job
        self.force = force
        self.retry_failed = retry_failed
        self.job_path = path.with_name(path.name + ".job.json")
        self.errors_path = path.with_name(path.name + ".errors.jsonl")
        self.retry_path = path.with_name(path.name + ".retry.jsonl")
        self.done = set()
        self.failed = set()
        self._out: IO[bytes] | None = None
        self._errors: IO[bytes] | None = None

    def _check_job(self) -> None:
        has_rows = self.path.is_file() and self.path.stat().st_size > 0
        if has_rows and not self.force:
            recorded = None
            if self.job_path.is_file():
                recorded = json.loads(self.job_path.read_text(encoding="utf-8"))
            if recorded != self.job:
                msg = (
                    f"{self.path} holds rows of another job ({self._difference(recorded)}); "
                    "use another output, or --force (force=True) to add this job's rows to it"
                )
                raise JobMismatchError(msg)
        self.job_path.parent.mkdir(parents=True, exist_ok=True)
        self.job_path.write_text(json.dumps(self.job, indent=2, sort_keys=True) + "\n")

    def _difference(self, recorded: dict[str, Any] | None) -> str:
        if recorded is None:
            return f"no {self.job_path.name} records its job"
        changed = sorted(k for k in {*recorded, *self.job} if recorded.get(k) != self.job.get(k))
        return ", ".join(f"{k}: {recorded.get(k)!r} then, {self.job.get(k)!r} now" for k in changed)

    def open(self) -> None:
        """Check the job, repair, finish a retry a kill cut short, read the ids, open.

        Torn last lines are cut; records are appended to the output, or to the retry
        journal when retrying failed rows.
        """
        self._check_job()
        for path in (self.path, self.errors_path, self.retry_path):
            if path.is_file():
                _repair(path)
        self._merge_retried()
        if self.path.is_file():
            if self.retry_failed:
                failed: set[str] = set()
                for record in _records(self.path):
                    (failed if "error" in record else self.done).add(id_key(record.get("id")))
                self.failed = failed - self.done  # an id answered once is done
            else:
                self.done = {id_key(record.get("id")) for record in _records(self.path)}
        self._out = (self.retry_path if self.retry_failed else self.path).open("ab")

    def _merge_retried(self) -> None:
        """Put the retry journal's records in place of the old lines of their ids."""
        if not self.retry_path.is_file():
            return
        ids = {id_key(record.get("id")) for _, record in _lines(self.retry_path)}
        if ids:  # else nothing to put in place: leave the output as it is
            _merge(self.path, self.retry_path, ids)
            _merge(self.errors_path, self.retry_path, ids, errors_only=True)
        self.retry_path.unlink()

    def write(self, record: dict[str, Any]) -> None:
        """One line, one write, flushed (to the OS: a killed process loses nothing written)."""
        assert self._out is not None, "open() first"
        line = _line(record)
        if "error" in record and not self.retry_failed:  # else the merge adds it
            if self._errors is None:
                self._errors = self.errors_path.open("ab")
            self._errors.write(line)
            self._errors.flush()
        self._out.write(line)
        self._out.flush()

    def close(self) -> None:
        """Close the files (their data is already flushed); merge the retried rows' records."""
        for handle in (self._out, self._errors):
            if handle is not None:
                handle.close()
        self._out = self._errors = None
        self._merge_retried()


class ParquetSink(JsonlSink):
    """Rows journaled as JSONL (``FILE.rows.jsonl``), written as Parquet when the run ends.

    Columns: ``id`` (the id's JSON text), ``output`` (JSON text or null), ``error`` (JSON
    text or null) — the same columns the Ray path writes.
    """

    def __init__(self, path: Path, job: dict[str, Any], **options: bool) -> None:
        """``options``: those of :class:`JsonlSink` (``force``, ``retry_failed``)."""
        parquet_module()  # fail before the first call when pyarrow is missing
        super().__init__(path.with_name(path.name + ".rows.jsonl"), job, **options)
        self.parquet_path = path
        # The job, the errors and the retried rows are named after the file asked for.
        self.job_path = path.with_name(path.name + ".job.json")
        self.errors_path = path.with_name(path.name + ".errors.jsonl")
        self.retry_path = path.with_name(path.name + ".retry.jsonl")

    def close(self) -> None:
        """Close the journal, then write the Parquet file from it."""
        super().close()
        if self.path.is_file():
            write_parquet(_records(self.path), self.parquet_path)


def parquet_columns(records: list[dict[str, Any]]) -> dict[str, list[str | None]]:
    """Records as the three Parquet columns (``id``, ``output``, ``error``) of JSON text."""

    def text(value: Any) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False)

    return {
        "id": [id_key(r.get("id")) for r in records],
        "output": [text(r.get("output")) for r in records],
        "error": [text(r.get("error")) for r in records],
    }


def write_parquet(records: Iterator[dict[str, Any]], path: Path) -> None:
    """Write ``records`` as Parquet, :data:`_PARQUET_BATCH` at a time, via a temporary file."""
    import pyarrow as pa

    pq = parquet_module()
    schema = pa.schema([("id", pa.string()), ("output", pa.string()), ("error", pa.string())])
    partial = path.with_name(path.name + ".partial")
    with pq.ParquetWriter(partial, schema) as writer:
        batch: list[dict[str, Any]] = []
        for record in records:
            batch.append(record)
            if len(batch) >= _PARQUET_BATCH:
                writer.write_table(pa.table(parquet_columns(batch), schema=schema))
                batch = []
        writer.write_table(pa.table(parquet_columns(batch), schema=schema))
    os.replace(partial, path)


def sink_for(path: Path, job: dict[str, Any], **options: bool) -> JsonlSink:
    """The sink of an output file: Parquet by its suffix, JSONL otherwise (``.jsonl``).

    Raises:
        ConfigurationError: a CSV output (not an output format).
    """
    kind = file_format(path)
    if kind == "parquet":
        return ParquetSink(path, job, **options)
    if kind == "csv":
        msg = f"{path}: write .jsonl or .parquet (a CSV cannot hold typed outputs)"
        raise ConfigurationError(msg)
    return JsonlSink(path, job, **options)
