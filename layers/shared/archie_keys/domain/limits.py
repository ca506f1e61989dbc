"""The bounds the service enforces on what clients send, each written once, here.

Validation (the pydantic models in edge/*_models.py, the route parameters in edge/openapi.py), the response
schemas and the key format read these constants, the dashboard's checks are held to them
(tests/logic/test_dashboard_rules.py), and docs/api.md lists them. Each bound says which attack or AWS limit it
respects. (The key id's shape is the key format's: domain.keyformat.KEY_ID_PATTERN.)
"""

from __future__ import annotations

import re
from typing import Literal, get_args

# Project and environment names travel verbatim inside every key (so the authorizer can find the key's
# partition without a lookup). Only lowercase letters and digits: no separator character, so the key can
# be split on "_" unambiguously and stays selectable with one double-click.
SLUG_MAX_LENGTH = 24
SLUG_PATTERN = rf"^[a-z0-9]{{1,{SLUG_MAX_LENGTH}}}$"

# A key prefix identifies the issuer to secret scanners (like GitHub's ghp_). It must end in "_" so the
# boundary between prefix and the rest is visible.
PREFIX_MAX_LENGTH = 16
PREFIX_PATTERN = rf"^[a-z0-9_]{{0,{PREFIX_MAX_LENGTH - 1}}}_$"
DEFAULT_PREFIX = "archie_"

ROLE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
# Resource names become path segments in IAM policy ARNs: no "*", "?" or "/" that could widen a match.
RESOURCE_PATTERN = r"^(\*|[a-z0-9][a-z0-9_-]{0,63})$"
FILTER_FIELD_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
CONTEXT_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"

KEY_NAME_MAX_LENGTH = 128
ROLE_DESCRIPTION_MAX_LENGTH = 512
CONTEXT_MAX_PAIRS = 16
CONTEXT_VALUE_MAX_LENGTH = 256
FILTER_LITERAL_MAX_LENGTH = 256
FILTERS_MAX_FIELDS = 8

# 10 roles x 20 permissions is the shape the authorizer's answer is sized for (see AUTHORIZER_RESPONSE_BUDGET).
ROLES_PER_KEY_MAX = 10
PERMISSIONS_PER_ROLE_MAX = 20

# Integer filter literals: JSON consumers (JavaScript among them) hold integers exactly only up to 2**53, and
# DynamoDB numbers have 38 digits; a bound keeps every stored number exact everywhere it is read.
FILTER_INT_MAX = 2**53

# JSON bodies are parsed only when they nest at most this deep (the deepest valid body nests 5 levels: a
# role's permissions, one permission, its filters, one filter value). Checked before parsing, so a body of
# thousands of "[" never reaches a recursive parser.
JSON_MAX_DEPTH = 16

# GitHub secret scanning alerts: tokens per alert, and the longest token worth checking (longer than any
# match of the published regex, 106 characters, so anything longer is simply not ours).
LEAK_TOKENS_MAX = 100
LEAK_TOKEN_MAX_LENGTH = 512
# The other fields of an alert's token (GitHub may add more: they are ignored): its type's name, where it was
# found (a URL, browsers' and proxies' 2,048 characters), and the kind of place.
LEAK_TOKEN_TYPE_MAX_LENGTH = 128
LEAK_URL_MAX_LENGTH = 2048
LEAK_SOURCE_MAX_LENGTH = 128
# GitHub's signature headers: the key identifier (a hex digest today) and a base64 DER ECDSA P-256 signature
# (about 96 characters); anything longer is not GitHub's and is refused unread.
GITHUB_KEY_ID_MAX_LENGTH = 256
GITHUB_SIGNATURE_MAX_LENGTH = 512
# A token is searched as the scanner searches a line, and each key found in it (its checksum holds) costs one
# argon2 verify. A match of the published regex holds one key; a token may hold a few more, but one packed
# with crafted shapes (anyone can compute a checksum) is checked for its first 4 only, so an alert costs at
# most 400 verifications (about 10 s of the function's 30 s at the deployed argon2 parameters).
LEAK_KEYS_PER_TOKEN_MAX = 4

# Paging tokens are opaque and authenticated; anything longer than a token we issue is refused unread.
NEXT_TOKEN_MAX_LENGTH = 1024

# Times a client may give (expires_at, since, until) lie in these years: the code represents every moment
# of them in UTC and in epoch seconds, whatever the offset given.
TIME_MIN_YEAR = 2000
TIME_MAX_YEAR = 9998
# A time in a query (since, until) is read only when at most this long: an ISO 8601 time with microseconds and an
# offset is 32 characters: anything past 64 is not one, and is refused unread.
TIME_QUERY_MAX_LENGTH = 64
# ?status= names a few statuses, comma-separated: every status once is 38 characters.
STATUS_QUERY_MAX_LENGTH = 64

# API Gateway accepts 10 MB bodies; the largest valid request (a role of 20 permissions with 8 filters of
# 256 characters each) is about 45 KB. A bound keeps a hostile client
# from making every handler parse megabytes.
BODY_MAX_BYTES = 64 * 1024

# The authorizer's answer (policy + context) for one key. API Gateway documents no limit of its own for a
# REST API's Lambda authorizer beyond Lambda's 6 MB response, but a large policy is evaluated on every
# request and the context is copied into every backend event, so we hold each key to 128 KiB and refuse at
# creation anything that would exceed it, computed for a stage ARN of STAGE_ARN_BUDGET_LENGTH characters.
AUTHORIZER_RESPONSE_BUDGET = 128 * 1024
# arn:aws:execute-api:<14-char region>:<account>:<10-char api id>/<stage name of up to 64 characters>
STAGE_ARN_BUDGET_LENGTH = 48 + 64

# Keys may expire at most this far ahead; a key meant to live forever simply omits expires_at.
EXPIRES_AT_MAX_DAYS = 5 * 366

LIST_LIMIT_DEFAULT = 25
LIST_LIMIT_MAX = 100
# ?limit= as ASCII digits only, 1 to LIST_LIMIT_MAX: the pattern is the bound, so no other reading of "5 ", "+5"
# or "1_0" is possible. Spelled out for 100 (the assert keeps the two together).
LIST_LIMIT_PATTERN = r"^(100|[1-9][0-9]?)$"
assert LIST_LIMIT_MAX == 100, "LIST_LIMIT_PATTERN spells out the bound"

# Idempotency-Key header: long enough for a UUID or a CI run id plus a step name.
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
# A request holds its Idempotency-Key at most this long (longer than any function's timeout): a claim left by
# a crashed invocation frees itself, so the client's retry runs.
IDEMPOTENCY_HOLD_SECONDS = 60

# Key names: no control characters (C0, DEL, C1) and no Unicode line or paragraph separators, so a name
# is one line, safe in logs, tables and terminals.
KEY_NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]+$"

# Secrets Manager names are at most 512 characters of [A-Za-z0-9/_+=.@-].
SECRET_NAME_MAX_LENGTH = 512
SECRET_NAME_PATTERN = rf"^[A-Za-z0-9/_+=.@-]{{1,{SECRET_NAME_MAX_LENGTH}}}$"

# A roll keeps the old key alive for at most a week: long enough to move any consumer, short enough that a
# forgotten old key does not linger.
GRACE_SECONDS_MAX = 7 * 24 * 3600

# /verify reads one presented key; nothing longer than the longest key can be one (see keyformat).
VERIFY_KEY_MAX_LENGTH = 256

# A guarded delete waits this long at most for the ingest watermark to pass its arrival (locally it moves every
# 0.3 s), then answers 503 rather than check an audit that may not hold every request answered before it. A
# few seconds: the caller is waiting, and API Gateway's integration timeout is 29 s. Its reads back off from
# the first pause, doubling to the last, so a slow watermark costs a handful of reads, not a busy loop.
GUARD_WAIT_SECONDS = 5.0
GUARD_FIRST_PAUSE_SECONDS = 0.05
GUARD_LONGEST_PAUSE_SECONDS = 1.0
# What a refused guarded delete tells its caller to wait before trying again.
GUARD_RETRY_AFTER_SECONDS = 5
# A guarded delete's window (`if_unused_for`, seconds) is at most seven digits, under 116 days: within the 90
# days of usage kept and the authorization witness's retention (domain.authorization_witness).
GUARD_WINDOW_MAX_DIGITS = 7
GUARD_WINDOW_MAX_SECONDS = 10**GUARD_WINDOW_MAX_DIGITS - 1
GUARD_WINDOW_PATTERN = rf"^[1-9][0-9]{{0,{GUARD_WINDOW_MAX_DIGITS - 1}}}$"

# A revoked key stays readable to /verify ("revoked") and to investigators for this long, then TTL purges it.
REVOKED_RETENTION_SECONDS = 30 * 24 * 3600
# API Gateway's longest authorizer result cache (AuthorizerResultTtlInSeconds): past this after a revocation,
# no layer can still hold an Allow of the key.
AUTHORIZER_CACHE_MAX_SECONDS = 3600

# Mass revocations under way at once in one environment. Each is an item every authorizer reads with the
# environment's state on every refresh (and checks every key against): a bound keeps that read one small page
# and that check a few comparisons, whoever keeps starting them. The next is 409 too_many_revocations.
REVOCATIONS_RUNNING_MAX = 20
# Why a mass revocation was made (kept in its record and in every key's audit event).
REVOCATION_REASON_MAX_LENGTH = 512
# The longest a request that creates a key may take from choosing its id (which holds its creation time) to
# its commit: the longest timeout of a function that creates keys (the canary's 60 s; create 10 s, roll 15 s).
# A mass revocation covers every key whose id is older than it, so its last pass over the keys comes this long
# after it began, when any key created under way is committed and can be marked too.
KEY_COMMIT_MAX_SECONDS = 60
# ... and a margin for clocks a little apart (a key's creation time is its creating instance's clock).
REVOCATION_SETTLE_SECONDS = KEY_COMMIT_MAX_SECONDS + 5

# Usage (requests per hour) can be asked for at most this far back: the counters' own retention.
USAGE_MAX_DAYS = 90

# The authorizer's in-function caches: a flood of distinct keys evicts old entries instead of growing memory.
POSITIVE_CACHE_MAX = 10_000
NEGATIVE_CACHE_MAX = 10_000
# Environments whose state (legacy keys accepted, mass revocations) a warm authorizer remembers. A forged key
# naming an environment not among them costs one Query: on a protected stage only its own environment passes
# step 2, so only the management API can be made to read more of them.
ENVIRONMENT_CACHE_MAX = 1_000

# Audit records keep at most this many characters of a request's client-controlled fields (path, user
# agent): API Gateway lets a header reach ~10 KB, and a block of such records must stay far inside
# DynamoDB's 400 KB item limit whoever sends them.
AUDIT_FIELD_MAX_CHARS = 1024

# --- OIDC federation (issue 23): the bounds on tokens, issuers and trust policies ----------------------
# A token is read only when it is at most this long: GitHub's and GitLab's are about 1-2 KB, a Cognito ID
# token with many groups a few KB. Checked before any parsing, so a megabyte of base64 is refused unread.
OIDC_TOKEN_MAX_LENGTH = 16 * 1024
# exp, nbf and iat are compared with this much tolerance for clocks that disagree (ours, the issuer's).
OIDC_CLOCK_SKEW_SECONDS = 60
# A token whose exp lies further than this after its iat is refused: a token minted to live for a year is a
# long-lived secret under another name, and the replay memory (exp + skew) stays bounded. Cognito's longest
# ID token lives one day; GitHub's and GitLab's live minutes.
OIDC_TOKEN_MAX_LIFETIME_SECONDS = 24 * 3600
# sub and jti are the identities the audit and the replay memory keep; kid selects a key. Longer ones are
# not any issuer's we know, and would only inflate what we store.
OIDC_SUBJECT_MAX_LENGTH = 1024
OIDC_JTI_MAX_LENGTH = 256
OIDC_KID_MAX_LENGTH = 256
OIDC_AUDIENCES_MAX = 16
# Issuer URLs (a policy's `issuer`, a discovery document's `jwks_uri`).
OIDC_ISSUER_MAX_LENGTH = 512
# What one fetch of a discovery document or a JWKS may return, and how long it may take: an issuer that
# answers slowly or with megabytes must not hold a function for its whole timeout nor fill its memory.
OIDC_DOCUMENT_MAX_BYTES = 64 * 1024
OIDC_FETCH_TIMEOUT_SECONDS = 3.0
# Keys read from one JWKS; the rest are ignored (issuers publish two or three: the current and the next).
JWKS_MAX_KEYS = 32
# The smallest RSA key accepted: NIST's floor since 2013; GitHub, GitLab and Cognito use 2048 or more.
RSA_MIN_BITS = 2048
# An issuer's keys are re-read at most this often while all is well (key rotation reaches us within it)...
JWKS_CACHE_TTL_SECONDS = 600
# ...and on a token signed by an unknown kid at most once in this interval per issuer: a flood of tokens
# with invented kids costs at most one fetch per issuer per interval, not one per token.
JWKS_REFETCH_MIN_INTERVAL_SECONDS = 30
# After a failed fetch, no new attempt for this long (the caller gets 503 with Retry-After), and keys
# fetched less than JWKS_STALE_MAX_SECONDS ago keep serving meanwhile: an issuer's outage of a few minutes
# does not stop every pipeline, and a key the issuer withdrew is not trusted for more than an hour.
JWKS_FAILURE_BACKOFF_SECONDS = 10
JWKS_STALE_MAX_SECONDS = 3600
# Issuers whose keys a warm function remembers (they come from trust policies, so few).
JWKS_ISSUERS_CACHED_MAX = 64

# Trust policies: which tokens of which issuer become which roles in one environment.
TRUST_POLICY_NAME_PATTERN = ROLE_NAME_PATTERN
TRUST_POLICIES_PER_ENVIRONMENT_MAX = 50
TRUST_AUDIENCE_MAX_LENGTH = 256
# Subject and claim patterns: `*` matches within one segment (between `/` and `:`), `**` across them
# (domain/trust_patterns.py). A few wildcards cover every real subject; the bound keeps matching cheap.
TRUST_PATTERN_MAX_LENGTH = 256
TRUST_PATTERN_MAX_WILDCARDS = 8
TRUST_CLAIM_CONDITIONS_MAX = 16
TRUST_CLAIM_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_:.-]{0,63}$"
# Keys made by an exchange live at most this long: 15 minutes unless the policy says otherwise, never more
# than 12 hours (a deploy that needs longer is a job for a key created by a person).
TRUST_TTL_DEFAULT_SECONDS = 15 * 60
TRUST_TTL_MIN_SECONDS = 60
TRUST_TTL_MAX_SECONDS = 12 * 3600
# Per environment and minute (break-glass, issue 23 point 5): what a leaked trust-writing key or a runaway
# pipeline can do before someone looks. A deploy pipeline exchanges a token or two per run; 60 a minute is
# many concurrent pipelines. Only exchanges of verified, trusted tokens count: a flood of bogus tokens is
# the stage throttle's (and cannot use up an environment's budget).
TRUST_CHANGES_PER_ENVIRONMENT_PER_MINUTE = 20
EXCHANGES_PER_ENVIRONMENT_PER_MINUTE = 60
ENVIRONMENT_RATE_WINDOW_SECONDS = 60
# The details of a workload kept in the audit (repository, workflow, ref, run id): each value at most this.
OIDC_ACTOR_DETAIL_MAX_CHARS = 256

# --- Per-key limits and key events (issue 21: docs/limits.md) ---------------------------------------------

# A key's network allow-list is matched on every decision the authorizer makes for it: a short list keeps that
# a handful of comparisons, and 16 ranges cover a company's offices, NAT gateways and CI runners.
ALLOWED_CIDRS_MAX = 16
# The longest CIDR text: an IPv6 address written with an embedded IPv4 tail (45 characters) and "/128".
CIDR_MAX_LENGTH = 49
# A source address as API Gateway reports it is never longer than an IPv6 address in its longest form.
SOURCE_IP_MAX_LENGTH = 45

# Rate limits become API Gateway usage plans (docs/limits.md): a key's steady rate and burst cannot usefully
# exceed the account's own throttle per region (10,000 requests/s, bursts of 5,000), and a quota is a usage
# plan's int32 Limit, held well inside it.
RATE_PER_SECOND_MAX = 10_000
BURST_MAX = 5_000
QUOTA_LIMIT_MAX = 1_000_000_000
QuotaPeriod = Literal["day", "week", "month"]
QUOTA_PERIODS: tuple[str, ...] = get_args(QuotaPeriod)

# Webhooks. A URL is fetched by the delivery function: a bound keeps a hostile one from being megabytes, and
# 2,048 characters is what browsers and proxies reliably carry.
WEBHOOK_URL_MAX_LENGTH = 2048
# A webhook is named like a role (it is a path segment too).
WEBHOOK_NAME_PATTERN = ROLE_NAME_PATTERN
# Each webhook is a fan-out target of every matching event: a bound keeps one event's deliveries few.
WEBHOOKS_PER_ENVIRONMENT_MAX = 10
# Recent deliveries answered per page (newest first).
WEBHOOK_DELIVERIES_PAGE_MAX = 50
# A delivery's id: 12 hex digits of its millisecond and 12 random ones (app.key_events).
WEBHOOK_DELIVERY_ID_PATTERN = r"^[0-9a-f]{24}$"
# Dead letters named in one redrive; without a list every dead letter is sent again.
WEBHOOK_REDRIVE_MAX = 100

# What each pattern means, in words: the message a client gets when a value does not match it.
PATTERN_MEANINGS = {
    SLUG_PATTERN: f"1-{SLUG_MAX_LENGTH} lowercase letters and digits",
    PREFIX_PATTERN: f"up to {PREFIX_MAX_LENGTH} lowercase letters, digits and '_', ending in '_'",
    ROLE_NAME_PATTERN: "1-64 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit",
    RESOURCE_PATTERN: "'*' or 1-64 lowercase letters, digits, '_' or '-', starting with a letter or digit",
    FILTER_FIELD_PATTERN: "1-64 letters, digits or '_', not starting with a digit",
    CONTEXT_NAME_PATTERN: "1-64 letters, digits, '_', '.' or '-', not starting with a digit",
    IDEMPOTENCY_KEY_PATTERN: "1-128 characters of letters, digits, '_', '.', ':' or '-'",
    KEY_NAME_PATTERN: "text without control characters",
    SECRET_NAME_PATTERN: f"1-{SECRET_NAME_MAX_LENGTH} characters of letters, digits and /_+=.@-",
    TRUST_CLAIM_NAME_PATTERN: "1-64 letters, digits, '_', ':', '.' or '-', not starting with a digit",
    LIST_LIMIT_PATTERN: f"a whole number from 1 to {LIST_LIMIT_MAX} in ASCII digits",
    GUARD_WINDOW_PATTERN: f"a whole number of seconds from 1 to {GUARD_WINDOW_MAX_SECONDS} in ASCII digits",
    WEBHOOK_DELIVERY_ID_PATTERN: "24 lowercase hexadecimal digits",
}


def whole(pattern: str) -> re.Pattern[str]:
    """A pattern of this module (written for JSON Schema, where `$` is the end of the text) compiled so
    Python matches the same: its `$` also matches before a final newline, so "demo\n" would pass as a slug.
    The trailing `$` becomes `\\Z`."""
    return re.compile(pattern.removesuffix("$") + r"\Z")
