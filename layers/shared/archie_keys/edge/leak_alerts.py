"""GitHub's secret scanning alerts: the body GitHub sends (the tokens it found; GitHub may add fields: they are
ignored, and every bound comes from domain.limits) and the label we answer for each token."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from archie_keys.domain import limits
from archie_keys.edge.schemas import Answer


class LeakedTokenModel(BaseModel):
    """One token of a GitHub secret scanning alert (GitHub may add fields: they are ignored)."""

    model_config = ConfigDict(extra="ignore")
    token: str = Field(max_length=limits.LEAK_TOKEN_MAX_LENGTH)
    type: str = Field(max_length=limits.LEAK_TOKEN_TYPE_MAX_LENGTH)
    url: str = Field(default="", max_length=limits.LEAK_URL_MAX_LENGTH)
    source: str = Field(default="", max_length=limits.LEAK_SOURCE_MAX_LENGTH)


class LeakLabel(Answer):
    token_hash: str = Field(description="sha256 of the reported token, hex")
    token_type: str
    label: Literal["true_positive", "false_positive"]
