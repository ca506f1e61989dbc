"""Reading a compact JWS (a JWT) strictly, and checking its signature with one key (joserfc does the
cryptography; docs/dependencies.md says why joserfc).

`read_token` parses without trusting: its header says which key to look up, its `iss` which issuer's keys
(only among issuers already trusted: the token never chooses where we fetch from). Nothing in it is believed
until `verify_signature` holds. The JSON is read strictly: a duplicated member (which two parsers may resolve
differently, so the part checked is not the part used) and NaN or Infinity (not JSON) are refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from archie_keys.domain.errors import shown
from archie_keys.domain.limits import OIDC_KID_MAX_LENGTH, OIDC_TOKEN_MAX_LENGTH
from archie_keys.domain.oidc_errors import BadSignatureError, MalformedTokenError, TokenAlgorithmError
from archie_keys.domain.oidc_keys import ALLOWED_ALGORITHMS, SigningKey, algorithm_for

# header.payload.signature, base64url without padding. An empty signature is let through the shape check
# so that `alg: none` is refused as what it is (an algorithm), not as a shape.
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\Z")
# Header members we refuse to read past: `crit` names extensions a verifier must understand (we understand
# none), and `b64: false` (RFC 7797) changes what the signature covers.
_REFUSED_HEADER_MEMBERS = ("crit", "b64")
# joserfc's own bound on a header is 512 bytes; a header carrying an x5c chain is longer, and harmless here.
_HEADER_MAX_BYTES = 4096


@dataclass(frozen=True)
class UnverifiedToken:
    """A token's parts before any check of its signature: `header` and `claims` are hostile until then."""

    compact: str
    header: Mapping[str, Any]
    claims: Mapping[str, Any]

    @property
    def alg(self) -> str:
        return str(self.header["alg"])

    @property
    def kid(self) -> str:
        return str(self.header["kid"])


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError("duplicated member")
    return dict(pairs)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_object(segment: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
    except (binascii.Error, ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise MalformedTokenError(f"a part is not base64url JSON ({error})") from None
    if not isinstance(value, dict):
        raise MalformedTokenError("a part is not a JSON object")
    return value


def read_token(token: object) -> UnverifiedToken:
    """Parse a compact JWS of at most OIDC_TOKEN_MAX_LENGTH characters. Refuses (MalformedTokenError,
    TokenAlgorithmError) a token that could never verify, before any key is looked up."""
    if not isinstance(token, str) or len(token) > OIDC_TOKEN_MAX_LENGTH or not _COMPACT.match(token):
        raise MalformedTokenError("not a compact JWS of bounded length")
    header_part, claims_part, _ = token.split(".")
    if len(header_part) > _HEADER_MAX_BYTES:
        raise MalformedTokenError("header too long")
    header, claims = _json_object(header_part), _json_object(claims_part)
    if any(name in header for name in _REFUSED_HEADER_MEMBERS):
        raise MalformedTokenError("header names extensions (crit, b64) this verifier does not implement")
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise TokenAlgorithmError(f"alg {shown(str(header.get('alg'))[:16])} is never accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= OIDC_KID_MAX_LENGTH:
        raise MalformedTokenError("kid missing: the signing key must be named")
    return UnverifiedToken(token, MappingProxyType(header), MappingProxyType(claims))


def verify_signature(token: UnverifiedToken, key: SigningKey) -> None:
    """Raise unless `key` signed `token` with an algorithm the key allows (TokenAlgorithmError,
    BadSignatureError)."""
    from joserfc import jws
    from joserfc.errors import JoseError

    alg = algorithm_for(key, token.alg)
    registry = jws.JWSRegistry(algorithms=[alg], strict_check_header=False)
    registry.max_header_length = _HEADER_MAX_BYTES
    registry.max_payload_length = OIDC_TOKEN_MAX_LENGTH
    try:
        jws.deserialize_compact(token.compact, key.key, registry=registry)
    except (JoseError, ValueError) as error:
        reason = f"signature does not verify with key {shown(key.kid[:64])} ({type(error).__name__})"
        raise BadSignatureError(reason) from None
