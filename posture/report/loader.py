"""One quarter's assessment directory, loaded through the contract (`posture.model.assessment`).

Every file is validated by its model, so a reader uses the field names the
exporter wrote and nothing else: a view that is missing or does not match the
contract is a `PostureError`, never an empty table (unknown is not "none").
Tables come as DataFrames whose columns are the row model's fields, present
even when there are no rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from posture.model.assessment import (
    VIEWS,
    AssessmentFiles,
    CatalogEntry,
    Finding,
    Scores,
)
from posture.model.errors import PostureError
from posture.model.thresholds import Thresholds
from posture.model.vocabulary import SEVERITIES


def columns(model: type[BaseModel]) -> list[str]:
    """A row model's keys as written (aliases included: ``pass``)."""
    return [f.alias or name for name, f in model.model_fields.items()]


def frame(rows: list[Any], model: type[BaseModel]) -> pd.DataFrame:
    """Rows of ``model`` as a DataFrame with every field as a column."""
    return pd.DataFrame([r.model_dump() for r in rows], columns=columns(model))


@dataclass
class Assessment:
    """One quarter's assessment: the typed files, and the findings as a DataFrame."""

    path: Path
    files: AssessmentFiles
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: str | Path) -> Assessment:
        return cls(path=Path(path), files=AssessmentFiles.read(Path(path)))

    @property
    def client(self) -> str:
        return self.files.findings.client

    @property
    def quarter(self) -> str:
        return self.files.findings.quarter

    @property
    def as_of(self) -> date:
        return self.files.findings.as_of

    @property
    def generated_at(self) -> datetime:
        return self.files.findings.generated_at

    @property
    def thresholds(self) -> Thresholds:
        """The thresholds the checks applied (recorded in findings.json)."""
        return self.files.findings.thresholds

    @property
    def scores(self) -> Scores:
        return self.files.scores

    @property
    def catalog(self) -> list[CatalogEntry]:
        return self.files.catalog

    @cached_property
    def findings(self) -> pd.DataFrame:
        """One row per (check, resource), plus ``severity_rank`` (0 = critical) for sorting."""
        f = frame(self.files.findings.findings, Finding)
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        return f.assign(severity_rank=f["severity"].map(rank).fillna(len(SEVERITIES)).astype(int))

    def rows(self, view: str) -> list[Any]:
        """A view's typed rows (`posture.model.assessment.VIEWS`)."""
        if view not in VIEWS:
            raise PostureError(f"no view {view!r} in the assessment (one of {', '.join(VIEWS)})")
        return getattr(self.files, view)

    def list(self, view: str) -> pd.DataFrame:
        """A view as a DataFrame (its model's columns, even when empty)."""
        if view not in self._frames:
            self._frames[view] = frame(self.rows(view), VIEWS[view])
        return self._frames[view]

    @property
    def inventory(self) -> pd.DataFrame:
        return self.list("inventory")
