"""The field types the API's request bodies share: names and patterns, context, filters, client times, and the
strict base that refuses unknown fields. Every bound comes from domain.limits.

Pydantic stays off the authorizer's cold start: it works on plain dicts and imports none of the models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from archie_keys.domain import limits as bounds  # not `limits`: a field of the key bodies
from archie_keys.domain.clock import parse_client_time

RoleName = Annotated[str, StringConstraints(pattern=bounds.ROLE_NAME_PATTERN)]
ResourceName = Annotated[str, StringConstraints(pattern=bounds.RESOURCE_PATTERN)]
FilterField = Annotated[str, StringConstraints(pattern=bounds.FILTER_FIELD_PATTERN)]
ContextName = Annotated[str, StringConstraints(pattern=bounds.CONTEXT_NAME_PATTERN)]
ContextValue = Annotated[str, StringConstraints(max_length=bounds.CONTEXT_VALUE_MAX_LENGTH)]
FilterLiteral = Annotated[str, StringConstraints(max_length=bounds.FILTER_LITERAL_MAX_LENGTH, strict=True)]
KeyName = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=bounds.KEY_NAME_MAX_LENGTH,
        pattern=bounds.KEY_NAME_PATTERN,
        strip_whitespace=True,
    ),
]


def _client_time(value: Any) -> datetime:
    """Times arrive as ISO 8601 strings with a time zone, within the years the code represents."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 time with a time zone, as a string")
    return parse_client_time(value)


ClientTime = Annotated[datetime, BeforeValidator(_client_time)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FromContext(StrictModel):
    """A filter value taken from the key's context at authorization time."""

    from_context: ContextName


# Integer literals stay exact for every reader (JavaScript holds integers exactly only up to 2**53).
FilterInt = Annotated[StrictInt, Field(ge=-bounds.FILTER_INT_MAX, le=bounds.FILTER_INT_MAX)]
FilterValue = StrictBool | FilterInt | FilterLiteral | FromContext


Reason = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=bounds.REVOCATION_REASON_MAX_LENGTH,
        pattern=bounds.KEY_NAME_PATTERN,
        strip_whitespace=True,
    ),
]
