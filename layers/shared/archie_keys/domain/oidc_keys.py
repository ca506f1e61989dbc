"""An issuer's signing keys (its JWKS) and which algorithm each allows.

The algorithm a token is checked with comes from the key, never from the token alone: the token's `alg` must
be one the key's type allows (RSA: RS256/384/512, PS256/384/512; EC: the one ES algorithm of its curve), and
the key's own `alg`, when it declares one, exactly. So `none`, every HMAC algorithm (the classic confusion:
an RSA public key used as an HMAC secret) and anything else are refused, whatever a token says.

A JWKS entry that cannot serve (a symmetric `oct` key, an OKP key, `use` other than `sig`, an RSA key under
RSA_MIN_BITS, an unknown curve, no `kid`, members that do not import) is skipped, not fatal: one odd key
does not take an issuer's other keys down with it. Only public members are read, even if a JWKS carries more.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archie_keys.domain.errors import shown
from archie_keys.domain.limits import JWKS_MAX_KEYS, OIDC_KID_MAX_LENGTH, RSA_MIN_BITS
from archie_keys.domain.oidc_errors import TokenAlgorithmError

RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHM_OF_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
ALLOWED_ALGORITHMS = RSA_ALGORITHMS | frozenset(EC_ALGORITHM_OF_CURVE.values())
_PUBLIC_MEMBERS = {"RSA": ("kty", "n", "e"), "EC": ("kty", "crv", "x", "y")}


@dataclass(frozen=True)
class SigningKey:
    """One usable key of an issuer: its `kid`, the algorithms it may verify, and the imported key."""

    kid: str
    algorithms: frozenset[str]
    key: Any = field(compare=False, repr=False)


def algorithms_for_jwk(jwk: Mapping[str, Any]) -> frozenset[str]:
    """The algorithms a JWK may verify: by its type and curve, narrowed to its declared `alg`. Empty when
    none (a type or curve we do not accept, or an `alg` its type does not allow)."""
    if jwk.get("kty") == "RSA":
        by_type = RSA_ALGORITHMS
    elif jwk.get("kty") == "EC" and jwk.get("crv") in EC_ALGORITHM_OF_CURVE:
        by_type = frozenset({EC_ALGORITHM_OF_CURVE[jwk["crv"]]})
    else:
        return frozenset()
    declared = jwk.get("alg")
    if declared is None:
        return by_type
    return by_type & {declared} if isinstance(declared, str) else frozenset()


def _serves_signatures(jwk: Mapping[str, Any]) -> bool:
    use, operations = jwk.get("use"), jwk.get("key_ops")
    if use is not None and use != "sig":
        return False
    return operations is None or (isinstance(operations, list) and "verify" in operations)


def _import(jwk: Mapping[str, Any]) -> Any | None:
    from joserfc.errors import JoseError, SecurityWarning
    from joserfc.jwk import import_key

    members = _PUBLIC_MEMBERS[jwk["kty"]]
    if not all(isinstance(jwk.get(name), str) for name in members):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)  # a small key is skipped below, not warned about
            key = import_key({name: jwk[name] for name in members})
    except (JoseError, ValueError, TypeError):
        return None
    if jwk["kty"] == "RSA" and getattr(key.public_key, "key_size", 0) < RSA_MIN_BITS:
        return None
    return key


def signing_keys(jwks: object) -> tuple[SigningKey, ...]:
    """The usable keys of a JWKS document (`{"keys": [...]}`), at most JWKS_MAX_KEYS entries read."""
    entries = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(entries, list):
        return ()
    found = []
    for jwk in entries[:JWKS_MAX_KEYS]:
        if not isinstance(jwk, dict):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not 0 < len(kid) <= OIDC_KID_MAX_LENGTH or not _serves_signatures(jwk):
            continue
        algorithms = algorithms_for_jwk(jwk)
        key = _import(jwk) if algorithms else None
        if key is not None:
            found.append(SigningKey(kid, algorithms, key))
    return tuple(found)


def algorithm_for(key: SigningKey, alg: object) -> str:
    """The algorithm to verify with: the token's `alg`, only when `key` allows it."""
    if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS or alg not in key.algorithms:
        raise TokenAlgorithmError(f"alg {shown(str(alg)[:16])} is not one key {shown(key.kid[:64])} allows")
    return alg
