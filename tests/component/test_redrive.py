"""Nothing lost: what the asynchronously invoked functions could not do waits in their dead-letter queues, and
`make redrive` replays it - deleting a message only once its function succeeded, duplicating nothing."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest

from archie_keys.edge.composition import get_services
from archie_local.lambdas import FunctionRegistry, invocation_record
from archie_local.template import load_template
from archie_tools.redrive import main, original_payload, redrive
from tests.component.test_audit import access_line, delivery, records


def queue_url(aws: Any, logical_id: str) -> str:
    return str(aws.resolver.ref(logical_id))


def dead_letters(url: str) -> list[dict[str, Any]]:
    """Every message in the queue, made visible again (so the test reads what an operator would see)."""
    sqs = boto3.client("sqs")
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    return found


def test_a_redriven_audit_batch_duplicates_nothing_and_leaves_the_queue_empty(aws, admin_key) -> None:
    # Given a batch the ingest wrote and then failed on (it timed out after its writes, say), which Lambda
    # retried and finally sent to the ingest's dead-letter queue as its on-failure record
    registry = FunctionRegistry(aws.functions)
    key_id = admin_key.split("_")[-1][:12]
    batch = delivery([access_line(str(uuid.uuid4()), 200, key_id) for _ in range(3)])
    registry["AuditIngestFunction"].invoke(batch)
    url = queue_url(aws, "AuditIngestDeadLetterQueue")
    record = invocation_record(registry["AuditIngestFunction"].arn, batch, TimeoutError("Task timed out"), 3)
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(record))

    # When the operator redrives the queue
    report = redrive(boto3.client("sqs"), url, registry["AuditIngestFunction"].invoke, log=lambda _: None)

    # Then the batch ran again, every request is still one record, counted once, and the queue is empty
    assert (report.redriven, report.failed, report.unreadable) == (1, 0, 0)
    assert len([r for r in records(key_id) if r["kind"] == "request"]) == 3
    usage = get_services().audit_reader.usage("demo", "dev", key_id, time.time() - 3600)
    assert sum(hour.requests for hour in usage) == 3
    assert dead_letters(url) == []


def test_a_message_whose_function_fails_again_stays_and_the_others_are_deleted(aws) -> None:
    url = queue_url(aws, "ExpiryFlushDeadLetterQueue")
    sqs = boto3.client("sqs")
    events = [{"project": "demo", "environment": "dev", "key_id": f"Vc37AAAAAAA{i}"} for i in range(3)]
    for event in events:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(invocation_record("arn:fn", event, ValueError(), 3)))
    invoked: list[Any] = []

    def invoke(payload: Any) -> Any:
        invoked.append(payload)
        if payload["key_id"].endswith("1"):
            raise RuntimeError("stages not flushed: abc/prod")
        return {"flushed": []}

    report = redrive(sqs, url, invoke, visibility_timeout=0, max_messages=3, log=lambda _: None)

    assert sorted(p["key_id"] for p in invoked) == sorted(e["key_id"] for e in events)  # the original payloads
    assert (report.redriven, report.failed) == (2, 1) and not report.ok
    left = dead_letters(url)
    assert [original_payload(m["Body"])["key_id"] for m in left] == ["Vc37AAAAAAA1"]


def test_an_expiry_scheduler_could_not_deliver_is_redriven_as_the_schedules_input(aws) -> None:
    # Scheduler's dead-letter event is the target's input itself (its error is in message attributes).
    url = queue_url(aws, "ExpiryFlushDeadLetterQueue")
    sqs = boto3.client("sqs")
    event = {"project": "demo", "environment": "dev", "expires_epoch": 1700000000}  # a schedule's Input
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(event),
        MessageAttributes={"ERROR_MESSAGE": {"DataType": "String", "StringValue": "Lambda was throttled"}},
    )
    flush = FunctionRegistry(aws.functions)["ExpiryFlushFunction"]

    report = redrive(sqs, url, flush.invoke, log=lambda _: None)

    assert report.redriven == 1 and dead_letters(url) == []


def test_the_command_finds_the_queue_and_function_in_the_stacks_outputs_and_exits_1_on_failure(
    aws, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="deployed-ingest-dlq")["QueueUrl"]
    boto3.client("cloudformation").create_stack(
        StackName="archie-keys",
        TemplateBody=json.dumps(
            {
                "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {
                    "AuditIngestDeadLetterQueueUrl": {"Value": url},
                    "AuditIngestFunctionName": {"Value": "archie-keys-AuditIngestFunction-x1"},
                },
            }
        ),
    )
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(invocation_record("arn:fn", {"awslogs": {}}, OSError(), 3)))
    sqs.send_message(QueueUrl=url, MessageBody="{not json")
    invoked: list[Any] = []

    code = main(
        ["--stack-name", "archie-keys", "--queue", "audit-ingest", "--visibility-timeout", "0", "--max-messages", "2"],
        session=boto3.session.Session(),
        invoke=invoked.append,
    )

    assert code == 1  # the unreadable message stays, and says so
    assert invoked == [{"awslogs": {}}]
    assert capsys.readouterr().out.strip() == "redriven 1, failed again 0, unreadable 1"
    assert [m["Body"] for m in dead_letters(url)] == ["{not json"]


def test_a_dry_run_says_why_each_message_failed_and_changes_nothing(aws, capsys: pytest.CaptureFixture[str]) -> None:
    url = queue_url(aws, "AuditIngestDeadLetterQueue")
    sqs = boto3.client("sqs")
    sqs.send_message(
        QueueUrl=url, MessageBody=json.dumps(invocation_record("arn:fn", {}, RuntimeError("table throttled"), 3))
    )
    lines: list[str] = []

    report = redrive(sqs, url, lambda _: pytest.fail("a dry run invokes nothing"), dry_run=True, log=lines.append)

    assert report.redriven == 0 and len(lines) == 1 and lines[0].endswith("table throttled")
    assert len(dead_letters(url)) == 1


def test_expiry_schedules_retry_for_an_hour_then_go_to_the_expiry_dead_letter_queue(aws, api, admin_key) -> None:
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    reply = api(
        "POST",
        "/projects/demo/environments/dev/keys",
        admin_key,
        {"name": "e", "roles": ["admin"], "expires_at": expires},
    )
    assert reply.status == 201, reply.body

    group = aws.environment["EXPIRY_SCHEDULE_GROUP"]
    listed = boto3.client("scheduler").list_schedules(GroupName=group)["Schedules"]
    (schedule,) = [s for s in listed if not s["Name"].startswith("notice-")]  # the key's expiry notices aside
    target = boto3.client("scheduler").get_schedule(Name=schedule["Name"], GroupName=group)["Target"]

    queue_arn = aws.resolver.get_att("ExpiryFlushDeadLetterQueue", "Arn")
    assert target["DeadLetterConfig"] == {"Arn": queue_arn}
    # Retried while a flush can still matter: API Gateway's cached Allow lives at most ReauthorizeEvery (<= 1 h).
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 3600
    max_ttl = int(load_template()["Parameters"]["AuthorizerResultTtl"]["MaxValue"])
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] >= max_ttl
    # and Scheduler's role may send there (Scheduler uses the schedule's role for its dead letters)
    role = load_template()["Resources"]["ExpirySchedulerRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert {
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": {"Fn::GetAtt": ["ExpiryFlushDeadLetterQueue", "Arn"]},
    } in role["Statement"]


def test_locally_an_async_event_that_fails_every_attempt_lands_in_the_dead_letter_queue_as_on_aws(aws) -> None:
    # The local stack runs log subscriptions and schedules as Lambda runs asynchronous events, so `make
    # redrive` can be tried against it: three attempts, then Lambda's invocation record.
    landed: list[tuple[str, dict[str, Any]]] = []
    registry = FunctionRegistry(aws.functions, lambda spec, record: landed.append((spec.logical_id, record)))
    attempts: list[Any] = []
    flush = registry["ExpiryFlushFunction"]
    original = flush.invoke

    def counted(event: dict[str, Any], **how: Any) -> Any:
        attempts.append(event)
        return original(event, **how)

    flush.invoke = counted  # type: ignore[method-assign]

    assert flush.invoke_async({"project": "demo"}) is False  # not an expiry event: fails every time

    assert len(attempts) == 3
    ((function, record),) = landed
    assert function == "ExpiryFlushFunction" and record["requestContext"]["condition"] == "RetriesExhausted"
    assert original_payload(json.dumps(record)) == {"project": "demo"}
    destination = aws.resolver.resolve(aws.functions["ExpiryFlushFunction"].on_failure)
    assert destination == aws.resolver.get_att("ExpiryFlushDeadLetterQueue", "Arn")
