"""Rows in: JSONL, CSV or Parquet files read as a stream, or any iterable of dicts.

Nothing here holds the whole input: files are read line by line (JSONL, CSV) or record batch
by record batch (Parquet); a ``datasets.Dataset`` or a list is iterated as it is. The row
count (for progress and ETA) is a separate streaming pass, or ``len()`` when the data has one.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sized
from pathlib import Path
from typing import Any

from hf_tools.errors import ConfigurationError

__all__ = ["FORMATS", "Source", "file_format", "open_source", "parquet_module"]

FORMATS = ("jsonl", "csv", "parquet")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
_PARQUET_BATCH = 4096


def parquet_module() -> Any:
    """``pyarrow.parquet``, or a ConfigurationError naming the extra that brings it."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        msg = "Parquet needs pyarrow: pip install 'hf-tools[batch]'"
        raise ConfigurationError(msg) from None
    return pq


def file_format(path: Path) -> str:
    """``jsonl``, ``csv`` or ``parquet`` from the file's suffix.

    Raises:
        ConfigurationError: another suffix.
    """
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        msg = f"{path}: use a .jsonl, .csv or .parquet file"
        raise ConfigurationError(msg)
    return kind


class Source:
    """A stream of rows (dicts) and, when known without reading them all, their count."""

    def __init__(self, rows: Iterable[Mapping[str, Any]], total: int | None) -> None:
        self.rows = rows
        self.total = total

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        return iter(self.rows)


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            if not isinstance(row, dict):
                msg = f"{path}:{number}: not a JSON object"
                raise ConfigurationError(msg)
            yield row


def _cell(value: str) -> Any:
    """A CSV cell: empty is missing, a JSON list or object is decoded, the rest stays text."""
    if value == "":
        return None
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _csv_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            yield {key: _cell(value or "") for key, value in row.items() if key is not None}


def _parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    parquet = parquet_module().ParquetFile(path)
    for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH):
        yield from batch.to_pylist()


def _count(path: Path, kind: str) -> int:
    if kind == "parquet":
        return int(parquet_module().ParquetFile(path).metadata.num_rows)
    if kind == "csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return sum(1 for _ in csv.DictReader(handle))
    with path.open("rb") as lines:
        return sum(1 for line in lines if line.strip())


def open_source(data: str | os.PathLike[str] | Iterable[Mapping[str, Any]]) -> Source:
    """Rows of a file path (JSONL, CSV, Parquet) or of any iterable of dicts.

    Raises:
        ConfigurationError: a missing file or an unknown suffix.
    """
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        kind = file_format(path)
        if not path.is_file():
            msg = f"no input file {path}"
            raise ConfigurationError(msg)
        readers = {"jsonl": _jsonl_rows, "csv": _csv_rows, "parquet": _parquet_rows}
        return Source(readers[kind](path), _count(path, kind))
    total = len(data) if isinstance(data, Sized) else None  # a list, a datasets.Dataset
    return Source(data, total)
