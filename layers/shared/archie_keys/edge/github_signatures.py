"""Authenticating GitHub's secret scanning alerts: an ECDSA P-256 / SHA-256 signature over the raw body, in
the headers `Github-Public-Key-Identifier` (which of GitHub's keys) and `Github-Public-Key-Signature` (base64,
DER). GitHub's current public keys are published at https://api.github.com/meta/public_keys/secret_scanning;
here they come from configuration: SECRET_SCANNING_PUBLIC_KEYS (a JSON object, key identifier to PEM public
key; what `make run` reads) or, as deployed, the SSM parameter SECRET_SCANNING_PUBLIC_KEYS_PARAMETER holding
the same JSON (cached 5 minutes). A missing, unknown or wrong signature is refused before the body is read.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

IDENTIFIER_HEADER = "github-public-key-identifier"
SIGNATURE_HEADER = "github-public-key-signature"


def parse_public_keys(raw: str) -> dict[str, str]:
    """{identifier: PEM} from its JSON; ValueError when it is not such an object."""
    keys = json.loads(raw) if raw.strip() else {}
    if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
        raise ValueError("secret scanning public keys must be a JSON object of key identifier to PEM public key")
    return keys


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name and isinstance(value, str):
            return value
    return None


def signed_by_github(body: bytes, headers: Mapping[str, Any] | None, public_keys: Mapping[str, str]) -> bool:
    """Whether `body` carries a valid signature by one of `public_keys` (P-256 keys only)."""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    identifier, signature = header(headers, IDENTIFIER_HEADER), header(headers, SIGNATURE_HEADER)
    pem = public_keys.get(identifier or "")
    if not identifier or not signature or pem is None:
        return False
    try:
        public_key = load_pem_public_key(pem.encode("ascii"))
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
            return False
        public_key.verify(base64.b64decode(signature, validate=True), body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError, binascii.Error):
        return False
    return True
