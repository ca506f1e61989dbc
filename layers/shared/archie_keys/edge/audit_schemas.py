"""Answers of the audit: a request as the access log and the authorizer saw it, a management event, and a page
of both."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from archie_keys.edge.schemas import Answer, KeyId, Time


class RequestRecord(Answer):
    id: str = Field(description="API Gateway's extended request id")
    kind: Literal["request"]
    time: Time
    project: str
    environment: str
    request_id: str | None = None
    method: str | None = None
    path: str | None = None
    resource: str | None = None
    status: int | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    key_id: KeyId | None = Field(
        default=None,
        description="the key the request was made with, when the authorizer proved its secret and the key belongs "
        "to this environment: the request is in that key's audit and usage",
    )
    claimed_key_id: KeyId | None = Field(
        default=None,
        description="a key id the presented token named without proving it (an unknown key or wrong secret, or a "
        "key of another environment): recorded here, counted for no key",
    )
    reason: str | None = Field(
        default=None,
        description="why the authorizer refused the key: not_found, revoked, expired, disabled, wrong_environment, "
        "source_ip_not_allowed, source_ip_not_cache_keyed",
    )
    error: str | None = None
    api: str | None = None


class EventRecord(Answer):
    id: str
    kind: Literal["event"]
    time: Time
    project: str
    environment: str
    event: str
    actor_key_id: str
    key_id: KeyId | None = None
    details: dict[str, Any]


class AuditPage(Answer):
    records: list[Annotated[RequestRecord | EventRecord, Field(discriminator="kind")]]
    next_token: str | None
    unavailable_regions: list[str] | None = Field(
        default=None,
        description="in a stack of several regions, the regions whose audit did not answer in time: the page holds "
        "the others' records, and its next page (if any) reads those regions on from where they stood (absent when "
        "every region answered)",
    )
