"""POST /secret-scanning/github: GitHub's secret scanning partner alerts, authenticated by GitHub's signature
(no API key). Each reported token gets a label; each live key this service issued that a token holds is revoked
at every layer (or only reported, per its environment's `on_leak`) and the leak lands in its audit trail once."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from archie_keys.app.leaks import LeakedToken, report_leaks
from archie_keys.domain import limits
from archie_keys.domain.errors import UnauthorizedError
from archie_keys.edge import leak_alerts
from archie_keys.edge.composition import get_services
from archie_keys.edge.github_signatures import signed_by_github
from archie_keys.edge.http import handle, logger, make_resolver
from archie_keys.edge.openapi import GithubKeyIdHeader, GithubSignatureHeader, LeakAlertBody, answers
from archie_keys.edge.responses import json_response

app = make_resolver()


@app.post(
    "/secret-scanning/github",
    summary="Receive a GitHub secret scanning alert",
    description="GitHub's partner format: a JSON array of `{token, type, url, source}`, signed with one of "
    "GitHub's published keys (`Github-Public-Key-Identifier`, `Github-Public-Key-Signature`: base64 ECDSA "
    "P-256/SHA-256 over the raw body). Answers one `{token_hash, token_type, label}` per token; each key a token "
    "holds (found as `python -m archie_keys scan` finds keys, text glued to it included) that is a live key this "
    "service issued is revoked (or reported, per its environment's `on_leak`), and its leak recorded once however "
    f"often the alert comes. Needs no API key; at most {limits.LEAK_TOKENS_MAX} tokens per alert.",
    operation_id="githubSecretScanning",
    tags=["secret scanning"],
    security=[],
    responses=answers(
        {200: ("a label per reported token, in order", list[leak_alerts.LeakLabel])}, authenticated=False
    ),
)
def github_alert(
    body: LeakAlertBody,
    github_public_key_identifier: GithubKeyIdHeader = None,
    github_public_key_signature: GithubSignatureHeader = None,
) -> Response[Any]:
    leaks = [LeakedToken(t.token, t.type, t.url, t.source) for t in body]
    return json_response(200, report_leaks(get_services(), leaks), {"Cache-Control": "no-store"})


def unsigned_refusal(event: dict[str, Any]) -> dict[str, Any] | None:
    """401 unless GitHub signed the raw body. Checked before anything parses it: an unsigned request learns
    nothing, not even whether its body would have been valid."""
    raw = event.get("body") or ""
    if signed_by_github(raw.encode("utf-8"), event.get("headers"), get_services().secret_scanning_public_keys()):
        return None
    refusal = UnauthorizedError("a valid GitHub secret scanning signature is required")
    return {
        "statusCode": refusal.status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(refusal.to_body()),
    }


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The signature check runs inside the traced entry, so a refused alert (and the GitHub keys it fetched)
    # shows in the trace too.
    return handle(app, event, context, gate=unsigned_refusal)
