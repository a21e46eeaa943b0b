"""tabular-regression: one number per row of a table; input and wire as tabular-classification."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

from hf_tools.tasks._base import HFInferenceWire, TaskSpec
from hf_tools.tasks.tabular_classification import TabularInput, build, predictions, render_rows

_TASK = "tabular-regression"


class TabularRegressionInput(TabularInput):
    """Arguments of the tabular_regression tool."""


class TabularRegressionOutput(BaseModel):
    """One value per row, in row order."""

    model_config = ConfigDict(extra="allow")

    values: list[FiniteFloat] = Field(description="Predicted value of each row.")


def parse(data: Any, args: TabularRegressionInput) -> TabularRegressionOutput:
    """``[110.0, 120.0, 130.0]`` -> one number per row."""
    return TabularRegressionOutput(values=[float(p) for p in predictions(data, _TASK, args)])


def render(out: TabularRegressionOutput) -> str:
    """One value per row, as the model gave it (``g`` format: no float noise)."""
    return render_rows([f"{v:g}" for v in out.values])


SPEC = TaskSpec(
    task=_TASK,
    description="Predict a number for each row of a table. Returns one value per row.",
    input_model=TabularRegressionInput,
    output_model=TabularRegressionOutput,
    render=render,
    default_model="scikit-learn/Fish-Weight",
    # No provider serves it since July 2025 (hf-inference dropped it, no other provider has
    # the task): offered only with a model or endpoint the user names.
    serving=(),
    family="text",
    example={
        "table": [
            {"column": "Height", "cells": ["11.52", "12.48", "12.3778"]},
            {"column": "Length1", "cells": ["23.2", "24", "23.9"]},
            {"column": "Length2", "cells": ["25.4", "26.3", "26.5"]},
            {"column": "Length3", "cells": ["30", "31.2", "31.1"]},
            {"column": "Species", "cells": ["Bream", "Bream", "Bream"]},
            {"column": "Width", "cells": ["4.02", "4.3056", "4.6961"]},
        ]
    },
    hf_inference=HFInferenceWire(build, parse),
)
