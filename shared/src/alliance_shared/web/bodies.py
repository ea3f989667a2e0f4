"""Request bodies every service takes the same way."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from alliance_shared.contract.vocabulary import Reason


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "board decision 2026-04"}]})

    reason: Reason


class OptionalReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "project postponed"}]})

    reason: Reason | None = None
