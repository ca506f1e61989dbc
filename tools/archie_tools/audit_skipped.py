"""`python -m archie_tools.audit_skipped --stack-name S [--retry]`: the audit buckets the compactor gave up on.

The audit compactor retries an arrival bucket that fails on the next runs, then skips it, so that the buckets
after it go on (the AuditBucketsSkipped alarm fires, and its ERROR line names the bucket and the error).
This lists the skipped buckets, when, how often they failed and why; with --retry, once the cause is fixed,
it invokes the compactor with {"retry_skipped": true}, which compacts each of them again (storing and counting
nothing twice: app.compaction says why) and leaves in the list only those that failed again. Exit 1 when a
bucket is still skipped after a retry.

Uses the ordinary AWS credential chain; needs cloudformation:DescribeStacks, dynamodb:Query on the audit table
and lambda:InvokeFunction on the compactor.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from archie_tools.redrive import Invoke, lambda_invoker, stack_outputs


def listed(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    from archie_keys.aws.compaction_ledger import CompactionLedger

    return [skipped.as_dict() for skipped in CompactionLedger(table, dynamodb).skipped()]


def show(buckets: list[dict[str, Any]]) -> None:
    for bucket in buckets:
        print(
            f"{bucket['bucket']}  skipped {bucket['skipped_at']} after {bucket['failures']} failures: {bucket['error']}"
        )
    print(f"{len(buckets)} skipped bucket(s)")


def main(argv: list[str] | None = None, *, session: Any = None, invoke: Invoke | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m archie_tools.audit_skipped", description=__doc__.split("\n")[0])
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--retry", action="store_true", help="compact the skipped buckets again")
    args = parser.parse_args(argv)
    if session is None:
        import boto3

        session = boto3.session.Session()
    outputs = stack_outputs(session.client("cloudformation"), args.stack_name)
    dynamodb, table = session.client("dynamodb"), outputs["AuditTableName"]
    show(listed(dynamodb, table))
    if not args.retry:
        return 0
    if invoke is None:
        invoke = lambda_invoker(session.client("lambda"), outputs["AuditCompactFunctionName"])
    report = invoke({"retry_skipped": True})
    print(f"retried: {report.get('buckets', 0)} bucket(s) compacted, {report.get('records', 0)} records")
    remaining = listed(dynamodb, table)
    show(remaining)
    return 1 if remaining else 0


if __name__ == "__main__":
    sys.exit(main())
