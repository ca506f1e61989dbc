"""`python -m archie_tools.replay_revocations --since ISO [--stack-name S | --local [FILE]] [--dry-run]`:
revoke again every key a point-in-time restore of the keys table brought back to life.

A restore puts every key back as it was at the restore point, so a key revoked after it (deleted, leaked,
mass-revoked: each revocation is its own `key.deleted` or `key.leaked` event in the audit, which is not
restored) works again. This reads those events since SINCE (the restore point, or earlier) from the audit
table, environment by environment, oldest first, and revokes each key that is still active in the keys
table, as it was revoked: `revoked_at` and `revoked_by` of the original revocation (a leak's marks too), its
roles' key counts, its idempotent response dropped. Each replay is audited as a
`key.deleted` event by `--actor` with `replay_of` naming the original event. Then every environment that had
a key revoked is flushed at every layer, once. It prints one line per event and a summary.

Safe twice: a key already revoked is left alone (the write is conditional), so a second run changes nothing.
It also names what it cannot replay: keys created after the restore point are not in the table (their
holders get 401: make them again), and a roll after it left its old key without the expiry the roll gave it.

Uses the ordinary AWS credential chain (the stack's outputs name its tables) and needs Scan and GetItem on the
keys table, Query on the audit table's by_env index, the writes of a revocation (UpdateItem on the keys and
idempotency tables, PutItem on the audit table), GetItem and UpdateItem on the coordination table (flushes are
coalesced there), ssm:GetParametersByPath on the registry and apigateway:DELETE on the stages' authorizer
caches.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archie_keys.domain.audit_records import AuditRecord, EventRecord
    from archie_keys.domain.key_record import KeyRecord

REVOKING = ("key.deleted", "key.leaked")
NOTICED = ("key.created", "key.rolled")
DEFAULT_ACTOR = "replay-revocations"
PAGE = 200
LOCAL_STATE = ".local-stack.json"
# Stack output -> the setting it gives (edge.settings: the same variables the functions read).
STACK_SETTINGS = {
    "KeysTableName": "KEYS_TABLE",
    "IdempotencyTableName": "IDEMPOTENCY_TABLE",
    "AuditTableName": "AUDIT_TABLE",
    "PepperSecretArn": "PEPPER_SECRET_ID",
    "ProtectedApisPath": "PROTECTED_APIS_PATH",
    "CoordinationTableName": "COORDINATION_TABLE",
}


@dataclass(frozen=True)
class Event:
    """A management event read back from the audit."""

    id: str
    event: str
    time: str
    project: str
    environment: str
    key_id: str
    actor: str
    details: dict[str, Any]

    @classmethod
    def of(cls, record: EventRecord) -> Event:
        return cls(
            record.id,
            record.event,
            record.time,
            record.project,
            record.environment,
            record.key_id or "",
            record.actor_key_id,
            dict(record.details),
        )

    @property
    def revokes(self) -> bool:
        """A key.deleted always revoked its key; a key.leaked only when the environment revokes on a leak."""
        return self.event == "key.deleted" or (self.event == "key.leaked" and self.details.get("action") == "revoke")

    def line(self) -> str:
        return f"{self.project}/{self.environment} {self.key_id} {self.event} of {self.time} by {self.actor}"


def wanted(record: AuditRecord) -> bool:
    from archie_keys.domain.audit_records import EventRecord

    return isinstance(record, EventRecord) and record.event in REVOKING + NOTICED and bool(record.key_id)


def environments(dynamodb: Any, keys_table: str) -> list[tuple[str, str]]:
    """Every declared environment (a scan: an operator's command, never a request path)."""
    request: dict[str, Any] = {
        "TableName": keys_table,
        "FilterExpression": "sk = :env",
        "ExpressionAttributeValues": {":env": {"S": "ENV"}},
        "ProjectionExpression": "#p, #e",  # both are DynamoDB reserved words
        "ExpressionAttributeNames": {"#p": "project", "#e": "environment"},
    }
    found = set()
    while True:
        page = dynamodb.scan(**request)
        found |= {(i["project"]["S"], i["environment"]["S"]) for i in page.get("Items", [])}
        if "LastEvaluatedKey" not in page:
            return sorted(found)
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def events_since(reader: Any, project: str, environment: str, since: str) -> list[Event]:
    """The environment's revocations, creations and rolls since `since`, oldest first."""
    from archie_keys.aws.audit_reader import AT_MAX
    from archie_keys.domain.audit_records import EventRecord

    found: list[Event] = []
    after = None
    while True:
        page, more = reader.query(
            project,
            environment,
            key_id=None,
            actor_key_id=None,
            lower=since,
            upper=AT_MAX,
            after=after,
            limit=PAGE,
            requests=False,
            accept=wanted,
        )
        found += [Event.of(record) for record in page if isinstance(record, EventRecord)]
        if not more or not page:
            return sorted(found, key=lambda e: (e.time, e.id))
        after = page[-1].at


@dataclass
class ReplayReport:
    counts: Counter[str] = field(default_factory=Counter)
    unflushed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unflushed

    def summary(self, dry_run: bool) -> str:
        order = ("revoked", "would revoke", "marked", "already revoked", "not in the table", "lost")
        text = ", ".join(f"{name} {self.counts[name]}" for name in order if self.counts[name])
        return f"replayed: {text or 'nothing to replay'}" + (" (dry run: nothing changed)" if dry_run else "")


@dataclass
class Replay:
    services: Any
    actor: str = DEFAULT_ACTOR
    dry_run: bool = False
    out: Callable[[str], None] = print

    def run(self, since: str, places: list[tuple[str, str]]) -> ReplayReport:
        report = ReplayReport()
        for project, environment in places:
            revoked = False
            for event in events_since(self.services.audit_reader, project, environment, since):
                outcome = self.replay(event)
                if outcome == "present":
                    continue  # a key created, or rolled, that the restored table holds as it should
                report.counts[outcome.split(":")[0]] += 1
                self.out(f"{outcome:<17} {event.line()}")
                revoked |= outcome == "revoked"
            if revoked:
                self.flush(project, environment, report)
        return report

    def replay(self, event: Event) -> str:
        store = self.services.store
        record = store.get_key(event.project, event.environment, event.key_id)
        if event.event == "key.created":
            return "lost: make it again" if record is None else "present"
        if record is None:
            return "not in the table"
        if event.event == "key.rolled":
            if record.revoked_at or record.rolled_to:
                return "present"
            return f"lost: roll again (was to expire {event.details.get('expires_at')})"
        if event.event == "key.leaked" and not event.revokes:
            return self.mark_leak(record, event)
        if record.revoked_at:
            return "already revoked"
        return "would revoke" if self.dry_run else self.revoke(record, event)

    def revoke(self, record: KeyRecord, event: Event) -> str:
        from archie_keys.app.revocation import forget_idempotent_response
        from archie_keys.aws.dynamo import TransactionRefused
        from archie_keys.domain import limits
        from archie_keys.domain.clock import from_iso

        services, place = self.services, (event.project, event.environment)
        leak = {"leaked_at": event.time, "leaked_url": event.details.get("url")} if event.event == "key.leaked" else {}
        purge = int(from_iso(event.time) + limits.REVOKED_RETENTION_SECONDS)
        details = {
            "name": record.name,
            "replay_of": event.id,
            "replayed_event": event.event,
            "reason": "a revocation replayed after the keys table was restored",
        }
        writes = [
            *services.store.key_revoke_writes(
                record, event.time, event.actor, purge, also_set={k: v for k, v in leak.items() if v}
            ),
            services.audit.event_write("key.deleted", *place, self.actor, event.key_id, details),
        ]
        try:
            services.transactions.commit(writes)
        except TransactionRefused:
            return "already revoked"  # revoked meanwhile
        forget_idempotent_response(services, record)
        return "revoked"

    def mark_leak(self, record: KeyRecord, event: Event) -> str:
        """A leak an environment only reported left the key live and marked: the mark is restored."""
        if record.leaked_at:
            return "present"
        if not self.dry_run:
            marks = {"leaked_at": event.time, "leaked_url": event.details.get("url") or ""}
            self.services.transactions.commit([self.services.store.key_mark_write(record, marks)])
        return "marked"

    def flush(self, project: str, environment: str, report: ReplayReport) -> None:
        flushed = self.services.flusher.revoke_everywhere(project, environment)
        for stage in flushed.unflushed:
            report.unflushed.append(f"{project}/{environment} {stage}")
            self.out(f"NOT FLUSHED       {project}/{environment} {stage}: may serve a revoked key until it expires")
        if flushed.flushed:
            self.out(f"flushed           {project}/{environment} {', '.join(flushed.flushed)}")


def configure(args: argparse.Namespace, session: Any = None) -> None:
    """Point the package's settings at the stack: its outputs, the local stack's connection, or (neither) the
    environment as it is. No metric lines on stdout: this command's output is its report."""
    if args.stack_name:
        import boto3

        client = (session or boto3.session.Session()).client("cloudformation")
        outputs = client.describe_stacks(StackName=args.stack_name)["Stacks"][0].get("Outputs", [])
        values = {o["OutputKey"]: o["OutputValue"] for o in outputs}
        for output, variable in STACK_SETTINGS.items():
            os.environ.setdefault(variable, values.get(output, ""))
        os.environ.setdefault("STACK_NAME", args.stack_name)
    elif args.local:
        state = Path(args.local)
        if not state.is_file():
            raise SystemExit(f"no local stack: {args.local} is missing (start `make run` first)")
        for name, value in json.loads(state.read_text()).items():
            os.environ.setdefault(name, str(value))
    os.environ["METRICS_NAMESPACE"] = ""


def places_of(args: argparse.Namespace, services: Any) -> list[tuple[str, str]]:
    if args.project and args.environment:
        return [(args.project, args.environment)]
    found = environments(services.dynamodb, services.settings.keys_table)
    return [place for place in found if not args.project or place[0] == args.project]


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m archie_tools.replay_revocations", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--since", required=True, help="ISO 8601 time with a zone: the restore point, or earlier")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack-name", help="read the table names from this CloudFormation stack's outputs")
    where.add_argument("--local", nargs="?", const=LOCAL_STATE, metavar="FILE", help="the running local stack")
    parser.add_argument("--project", help="only this project's environments")
    parser.add_argument("--environment", help="with --project: only this environment")
    parser.add_argument("--actor", default=DEFAULT_ACTOR, help="who replays, as the audit records it")
    parser.add_argument("--dry-run", action="store_true", help="print what it would do; change nothing")
    args = parser.parse_args(argv)
    from archie_keys.domain.clock import parse_client_time, to_iso

    try:
        since = to_iso(parse_client_time(args.since).timestamp())
    except ValueError:
        parser.error(f"--since {args.since!r} is not an ISO 8601 time with a time zone")
    configure(args)
    from archie_keys.edge.composition import get_services, reset

    reset()
    services = get_services()
    replay = Replay(services, args.actor, args.dry_run, out)
    report = replay.run(since, places_of(args, services))
    out(report.summary(args.dry_run))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
