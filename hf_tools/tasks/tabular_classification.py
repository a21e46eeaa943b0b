"""tabular-classification: one class label per row of a table (scikit-learn-style models).

hf-inference carries a table as ``{"inputs": {"data": {column: [cells]}}}`` (the recorded
requests; the model's widget format) and answers one prediction per row, ``[5, 5, 7]``.
tabular-regression shares the input and the wire (:mod:`hf_tools.tasks.tabular_regression`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from hf_tools.errors import ResponseFormatError
from hf_tools.tasks._base import HFInferenceWire, Media, Payload, TaskSpec, ToolInput, expect_list
from hf_tools.tasks.table_question_answering import Table, as_map

_TASK = "tabular-classification"

EXAMPLE_TABLE = [
    {"column": "fixed_acidity", "cells": ["7.4", "7.8", "10.3"]},
    {"column": "volatile_acidity", "cells": ["0.7", "0.88", "0.32"]},
    {"column": "citric_acid", "cells": ["0", "0", "0.45"]},
    {"column": "residual_sugar", "cells": ["1.9", "2.6", "6.4"]},
    {"column": "chlorides", "cells": ["0.076", "0.098", "0.073"]},
    {"column": "free_sulfur_dioxide", "cells": ["11", "25", "5"]},
    {"column": "total_sulfur_dioxide", "cells": ["34", "67", "13"]},
    {"column": "density", "cells": ["0.9978", "0.9968", "0.9976"]},
    {"column": "pH", "cells": ["3.51", "3.2", "3.23"]},
    {"column": "sulphates", "cells": ["0.56", "0.68", "0.82"]},
    {"column": "alcohol", "cells": ["9.4", "9.8", "12.6"]},
]
"""The wine-quality rows of the recorded request (huggingface.js tapes)."""


class TabularInput(ToolInput):
    """Arguments of the tabular tools: the rows to predict, as named columns."""

    table: Table


class TabularClassificationInput(TabularInput):
    """Arguments of the tabular_classification tool."""


class TabularClassificationOutput(BaseModel):
    """One label per row, in row order."""

    model_config = ConfigDict(extra="allow")

    labels: list[StrictStr] = Field(description="Predicted class of each row.")


def build(args: TabularInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": {"data": {column: [cells]}}}``."""
    return Payload(json={"inputs": {"data": as_map(args.table)}})


def predictions(data: Any, task: str, args: TabularInput) -> list[Any]:
    """The per-row answers: ``[p, ...]``, or the same list wrapped once by older servers.

    Raises:
        ResponseFormatError: not one prediction per row of ``args.table`` (an embedding's
            768 floats are a list of numbers too).
    """
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], list):
        data = data[0]
    items = expect_list(data, task, "one prediction per row")
    rows = max((len(column.cells) for column in args.table), default=0)
    if len(items) != rows:
        msg = f"expected one prediction per row ({rows}), got {len(items)} values"
        raise ResponseFormatError(msg, task=task)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            msg = f"prediction {item!r} is not a label or a number"
            raise TypeError(msg)
    return items


def parse(data: Any, args: TabularClassificationInput) -> TabularClassificationOutput:
    """``[5, 5, 7]`` or ``["good", "bad"]`` -> labels as text, one per row."""
    return TabularClassificationOutput(labels=[str(p) for p in predictions(data, _TASK, args)])


def render_rows(values: list[str]) -> str:
    """``row 1: 5; row 2: 5; row 3: 7`` (the first 50 rows)."""
    shown = "; ".join(f"row {i}: {v}" for i, v in enumerate(values[:50], 1))
    more = len(values) - 50
    return (shown + (f" (+{more} more rows)" if more > 0 else "")) or "no prediction returned"


def render(out: TabularClassificationOutput) -> str:
    """One label per row."""
    return render_rows(out.labels)


SPEC = TaskSpec(
    task=_TASK,
    description="Classify each row of a table. Returns one label per row.",
    input_model=TabularClassificationInput,
    output_model=TabularClassificationOutput,
    render=render,
    default_model="vvmnnnkv/wine-quality",
    # No provider serves it since July 2025 (hf-inference dropped it, no other provider has
    # the task): offered only with a model or endpoint the user names.
    serving=(),
    family="text",
    example={"table": EXAMPLE_TABLE},
    hf_inference=HFInferenceWire(build, parse),
)
