"""Paging tokens: opaque to clients and authenticated, so a token is only ever one this service issued for
this very listing.

A token carries the position (the last item's sort key) and a MAC binding it to the listing (keys, roles,
audit), its partition (project and environment) and its filters (the caller's row scope and the query's
own filters). A forged, edited or transplanted token fails the MAC and is refused (422) before any read: no
sort key outside the listing's range ever reaches DynamoDB.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from archie_keys.domain.errors import ValidationFailedError
from archie_keys.domain.limits import NEXT_TOKEN_MAX_LENGTH

_VERSION = b"1"
_MAC_LENGTH = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _refused() -> ValidationFailedError:
    return ValidationFailedError("next_token is not a token this listing gave", field="next_token")


def token_scope(project: str, environment: str) -> str:
    """What a listing's token is bound to: one environment. The same text as the environment's partition key
    (aws.key_store.partition) because tokens were first bound to that: tokens issued before stay valid."""
    return f"PROJECT#{project}#ENV#{environment}"


class PagingTokens:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, listing: str, partition: str, scope: Any, position: str) -> bytes:
        bound = json.dumps([listing, partition, scope, position], sort_keys=True, separators=(",", ":"))
        return hmac.new(self._key, _VERSION + bound.encode("utf-8"), hashlib.sha256).digest()[:_MAC_LENGTH]

    def issue(self, listing: str, partition: str, scope: Any, position: str) -> str:
        """A token for the page after `position` of this listing, partition and scope (JSON-able)."""
        mac = self._mac(listing, partition, scope, position)
        return f"{_b64(position.encode('utf-8'))}.{_b64(mac)}"

    def read(self, token: str, listing: str, partition: str, scope: Any) -> str:
        """The position a token issued for exactly this listing, partition and scope holds; else 422."""
        if not token.isascii() or len(token) > NEXT_TOKEN_MAX_LENGTH or token.count(".") != 1:
            raise _refused()
        encoded_position, encoded_mac = token.split(".")
        try:
            position = _unb64(encoded_position).decode("utf-8")
            mac = _unb64(encoded_mac)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise _refused() from None
        if not hmac.compare_digest(mac, self._mac(listing, partition, scope, position)):
            raise _refused()
        return position
