"""The promotion gate's contract: the policy cdk.json states (infra/config.py validates it, the
state machine passes it verbatim, lambdas/pipeline/gate.py applies it) and metrics.json as
evaluation writes it (prodcat/metrics.py) and the gate reads it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["text_only", "image_only", "text_image"]
Metric = Literal["accuracy", "top3_accuracy", "macro_f1", "weighted_f1"]


class GatePolicy(BaseModel):
    """The challenger must beat the champion by `margin` on `metric` in `mode`, and clear floors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Mode
    metric: Metric
    margin: float = Field(ge=0, le=1)
    min_accuracy: float = Field(ge=0, le=1)
    max_ece: float = Field(ge=0, le=1)


class ModeMetrics(BaseModel):
    """One input mode's block of metrics.json (extra fields are tolerated).

    A mode with no test rows is written as `{"n": 0}` (prodcat.metrics): its scores are None,
    and a gate on that mode refuses the challenger rather than failing to read the report.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    n: int = Field(ge=0)
    accuracy: float | None = Field(default=None, ge=0, le=1)
    top3_accuracy: float | None = Field(default=None, ge=0, le=1)
    macro_f1: float | None = Field(default=None, ge=0, le=1)
    weighted_f1: float | None = Field(default=None, ge=0, le=1)
    ece: float | None = Field(default=None, ge=0, le=1)


class EvaluationReport(BaseModel):
    """metrics.json as `prodcat evaluate` and the evaluate processing job write it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    text_only: ModeMetrics
    image_only: ModeMetrics
    text_image: ModeMetrics
    model_version: str

    def mode(self, mode: Mode) -> ModeMetrics:
        block: ModeMetrics = getattr(self, mode)
        return block
