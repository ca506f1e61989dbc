"""`make audit-skipped`: an operator finds the audit buckets the compactor skipped, and why, and once the cause
is fixed compacts them again through the compactor function - counting nothing twice."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from archie_keys.app.compaction import MAX_BUCKET_FAILURES, UnreadableBlockError
from archie_keys.domain.clock import to_iso
from archie_keys.edge.composition import get_services
from archie_local.lambdas import FunctionRegistry
from archie_tools.audit_skipped import main
from tests.component.test_compaction import (
    HOT,
    begin,
    compactor,
    expected_usage,
    first_bucket,
    poison,
    usage,
    write_bucket,
)


class Session:
    """boto3 for the in-process stack, and the stack's outputs as CloudFormation would answer them."""

    def __init__(self, outputs: dict[str, str]) -> None:
        self.outputs = outputs

    def client(self, service: str) -> Any:
        if service != "cloudformation":
            return boto3.client(service)
        outputs = [{"OutputKey": key, "OutputValue": value} for key, value in self.outputs.items()]

        class Stacks:
            def describe_stacks(self, StackName: str) -> dict[str, Any]:
                return {"Stacks": [{"Outputs": outputs}]}

        return Stacks()


def test_a_skipped_bucket_is_listed_with_its_error_and_a_retry_compacts_it_once(aws, capsys) -> None:
    # Given a bucket whose one unreadable block made the compactor skip it after its retries
    bucket = first_bucket()
    begin(bucket)
    write_bucket(bucket, {HOT: 21}, "tool")
    pk = poison(bucket)
    for _ in range(MAX_BUCKET_FAILURES - 1):
        with pytest.raises(UnreadableBlockError):
            compactor(bucket).run()
    assert compactor(bucket).run().skipped == 1
    session = Session({"AuditTableName": get_services().audit_writer.table, "AuditCompactFunctionName": "x"})
    compact = FunctionRegistry(aws.functions)["AuditCompactFunction"].invoke

    # When the operator lists the skipped buckets: the bucket, its failures and the block that failed are named
    assert main(["--stack-name", "prod"], session=session, invoke=compact) == 0
    listing = capsys.readouterr().out
    assert to_iso(bucket) in listing and f"after {MAX_BUCKET_FAILURES} failures" in listing and pk in listing

    # A retry while the block is still broken leaves the bucket listed, and says so (exit 1)
    assert main(["--stack-name", "prod", "--retry"], session=session, invoke=compact) == 1
    assert usage(HOT) == expected_usage(0)

    # Once the block is repaired (here: removed), a retry compacts the bucket, and a second retry counts nothing
    boto3.client("dynamodb").delete_item(
        TableName=get_services().audit_writer.table,
        Key={"pk": {"S": pk}, "sk": {"S": f"{to_iso(bucket)}#poison"}},
    )
    assert main(["--stack-name", "prod", "--retry"], session=session, invoke=compact) == 0
    assert "0 skipped bucket(s)" in capsys.readouterr().out
    assert usage(HOT) == expected_usage(21)
    assert main(["--stack-name", "prod", "--retry"], session=session, invoke=compact) == 0
    assert usage(HOT) == expected_usage(21)
