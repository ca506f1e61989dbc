"""CloudWatch metrics as embedded metric format (EMF): one JSON line on stdout per data point, which
CloudWatch Logs turns into a metric of the function's log group, with no API call and no agent.

Standard library only: the authorizer writes one line per decision, and Powertools Metrics would add its
import to the authorizer's cold start (`make bench`, authorizer_import_ms). The lines of the authorizer are
serialised once per kind (outcome, reason) and only the timestamp is filled in per decision, so a decision
costs a string join and one write.

Namespace and the `Stack` dimension are the template's (METRICS_NAMESPACE, STACK_NAME): its alarms and its
CloudWatch dashboard read these metrics by those names. An empty namespace writes nothing.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

# The metric names, in one place: the template's alarms and dashboard use the same names
# (tests/infrastructure checks that each metric they read is one of these).
REFUSED = "Refused"
UNFLUSHED_STAGES = "UnflushedStages"
AUDIT_LAG = "AuditLag"
COMPACTION_BEHIND = "AuditCompactionBehind"
BUCKETS_SKIPPED = "AuditBucketsSkipped"
PEPPER_STALE = "PepperStale"
SECRETS_UNPROMOTED = "SecretsUnpromoted"
CANARY_PROBE = "CanaryProbe"
METRIC_NAMES = (
    REFUSED,
    UNFLUSHED_STAGES,
    AUDIT_LAG,
    COMPACTION_BEHIND,
    BUCKETS_SKIPPED,
    PEPPER_STALE,
    SECRETS_UNPROMOTED,
    CANARY_PROBE,
)
# Why the authorizer refuses (KeyRefusedError reasons on its path, and "error" when it failed closed): the
# `Reason` dimension's values, each a line of the dashboard.
REFUSAL_REASONS = (
    "malformed",
    "wrong_environment",
    "not_found",
    "expired",
    "revoked",
    "disabled",
    "source_ip_not_allowed",
    "source_ip_not_cache_keyed",
    "error",
)


def write_stdout(line: str) -> None:
    # sys.stdout is looked up on every write: the local stack and the benchmark move stdout after import.
    sys.stdout.write(line + "\n")


class MetricLines:
    """Writes EMF lines in one namespace with the `Stack` dimension on every metric."""

    def __init__(
        self,
        namespace: str,
        stack: str,
        write: Callable[[str], None] = write_stdout,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.namespace = namespace
        self.stack = stack
        self.write = write
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return bool(self.namespace)

    def document(
        self,
        metric: str,
        value: float,
        unit: str = "Count",
        dimensions: Sequence[str] = (),
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One data point. `dimensions` name keys of `values` that become extra dimensions (each published
        with and without them); every other key of `values` is a searchable property, not a dimension."""
        dimension_sets = [["Stack"]] + ([["Stack", *dimensions]] if dimensions else [])
        return {
            "_aws": {
                "Timestamp": int(self.clock() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": dimension_sets,
                        "Metrics": [{"Name": metric, "Unit": unit}],
                    }
                ],
            },
            "Stack": self.stack,
            **(values or {}),
            metric: value,
        }

    def put(
        self,
        metric: str,
        value: float,
        unit: str = "Count",
        dimensions: Sequence[str] = (),
        values: Mapping[str, Any] | None = None,
    ) -> None:
        if self.enabled:
            self.write(json.dumps(self.document(metric, value, unit, dimensions, values), separators=(",", ":")))

    def unflushed_stage(self, stage: str, project: str, environment: str) -> None:
        """A stage whose authorizer cache a revocation or an expiry could not flush (after its retries)."""
        self.put(UNFLUSHED_STAGES, 1, values={"stage": stage, "project": project, "environment": environment})

    def audit_lag(self, milliseconds: float) -> None:
        """How far behind the audit is: now minus the oldest log event of the batch just written."""
        self.put(AUDIT_LAG, round(milliseconds), unit="Milliseconds")

    def pepper_stale(self, seconds: float) -> None:
        """The pepper could not be re-read: the last good one keeps serving, this many seconds after it was."""
        self.put(PEPPER_STALE, round(seconds), unit="Seconds")

    def compaction_behind(self, milliseconds: float) -> None:
        """How far a key's view of the audit trails: now minus the end of the newest compacted bucket."""
        self.put(COMPACTION_BEHIND, round(milliseconds), unit="Milliseconds")

    def secret_unpromoted(self, secret_name: str) -> None:
        """A delivered secret whose new version never became AWSCURRENT (its promotion failed after the commit)."""
        self.put(SECRETS_UNPROMOTED, 1, values={"secret_name": secret_name})

    def canary_probe(self, passed: bool, step: str, seconds: float) -> None:
        """One synthetic canary run: 1 when the whole path worked, else 0 with the step that failed."""
        self.put(CANARY_PROBE, 1 if passed else 0, values={"step": step, "seconds": round(seconds, 3)})

    def bucket_skipped(self, bucket: str, error: str) -> None:
        """An arrival bucket the compactor gave up on after its retries (listed for `make audit-skipped`)."""
        self.put(BUCKETS_SKIPPED, 1, values={"bucket": bucket, "error": error})


class DecisionMetrics:
    """The authorizer's refusals: `Refused` by `Reason` (malformed, not_found, expired, revoked,
    wrong_environment, error), one line per refusal. Each kind of line is serialised once; a refusal fills
    in the timestamp.

    An accepted decision writes nothing: at 0% cache hits a line per request would be the authorizer's
    largest cost after Lambda's own fee (~200 bytes of log ingestion, `make cost`), and Lambda already
    counts what it would say: every decision is an invocation and every refusal (401, Deny) or failure
    (503) a line here, so accepted decisions are its Invocations minus the sum of Refused."""

    def __init__(self, lines: MetricLines) -> None:
        self._lines = lines
        self._templates: dict[str, tuple[str, str]] = {}

    def _template(self, reason: str) -> tuple[str, str]:
        template = self._templates.get(reason)
        if template is None:
            document = self._lines.document(REFUSED, 1, dimensions=("Reason",), values={"Reason": reason})
            document["_aws"]["Timestamp"] = 0
            text = json.dumps(document, separators=(",", ":"))
            head, _, tail = text.partition('"Timestamp":0')
            template = (head + '"Timestamp":', tail)
            self._templates[reason] = template
        return template

    def _write(self, reason: str) -> None:
        if not self._lines.enabled:
            return
        head, tail = self._template(reason)
        self._lines.write(head + str(int(self._lines.clock() * 1000)) + tail)

    def refused(self, reason: str) -> None:
        self._write(reason)
