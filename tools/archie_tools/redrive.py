"""`python -m archie_tools.redrive --stack-name S --queue audit-ingest|expiry-flush`: replay a dead-letter queue.

The audit ingest and the expiry flush are invoked asynchronously (CloudWatch Logs, EventBridge Scheduler).
An event that failed Lambda's retries lands in the function's dead-letter queue as Lambda's invocation record
(`requestPayload` is the original event); an expiry Scheduler itself could not deliver lands there as the
schedule's input. Once the cause is fixed, this re-invokes the function synchronously with each message's
original payload and deletes the message only after the function succeeded. A message whose invocation fails
again stays in the queue (visible again after `--visibility-timeout` seconds) and the tool exits 1.

Safe to run twice, or on a message that already half-succeeded: the ingest keys every record by API
Gateway's request id and counts usage only on first attribution, and a flush is idempotent.

Uses the ordinary AWS credential chain; needs cloudformation:DescribeStacks, sqs:ReceiveMessage,
sqs:DeleteMessage, sqs:ChangeMessageVisibility on the queue and lambda:InvokeFunction on the function.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# --queue -> (the stack output naming the queue's URL, the stack output naming the function)
QUEUES = {
    "audit-ingest": ("AuditIngestDeadLetterQueueUrl", "AuditIngestFunctionName"),
    "expiry-flush": ("ExpiryFlushDeadLetterQueueUrl", "ExpiryFlushFunctionName"),
}

Invoke = Callable[[Any], Any]


class RedriveFailedError(RuntimeError):
    pass


def original_payload(body: str) -> Any:
    """The event the function first received: Lambda's on-failure record carries it as `requestPayload`;
    Scheduler's dead-letter event (and a classic dead-letter queue) is the payload itself."""
    document = json.loads(body)
    if isinstance(document, dict) and "requestContext" in document and "requestPayload" in document:
        return document["requestPayload"]
    return document


def why_it_failed(body: str, attributes: dict[str, Any]) -> str:
    """The error that sent a message here, for --dry-run: Lambda's record holds it in responsePayload,
    Scheduler puts it in the ERROR_MESSAGE attribute."""
    try:
        document = json.loads(body)
    except ValueError:
        return "unreadable message"
    if isinstance(document, dict) and isinstance(document.get("responsePayload"), dict):
        return str(document["responsePayload"].get("errorMessage", "unknown error"))
    error = attributes.get("ERROR_MESSAGE", {}).get("StringValue")
    return str(error or "no error recorded")


def lambda_invoker(client: Any, function_name: str) -> Invoke:
    """A synchronous invocation that raises when the function failed (Lambda answers 200 with FunctionError)."""

    def invoke(payload: Any) -> Any:
        response = client.invoke(
            FunctionName=function_name, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
        )
        body = response["Payload"].read()
        if response.get("FunctionError") or int(response.get("StatusCode", 200)) >= 300:
            raise RedriveFailedError(f"{function_name} failed again: {body[:500]!r}")
        return json.loads(body) if body else None

    return invoke


@dataclass
class RedriveReport:
    redriven: int = 0
    failed: int = 0
    unreadable: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.unreadable == 0

    def line(self) -> str:
        return f"redriven {self.redriven}, failed again {self.failed}, unreadable {self.unreadable}"


def redrive(
    sqs: Any,
    queue_url: str,
    invoke: Invoke,
    *,
    max_messages: int | None = None,
    visibility_timeout: int = 300,
    dry_run: bool = False,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> RedriveReport:
    """Replay the queue until a receive finds nothing visible. A message is received (and so hidden for
    `visibility_timeout` seconds), its payload invoked, and deleted only after that succeeded; one that fails
    stays hidden until the timeout, so this run does not see it again and ends."""
    report = RedriveReport()
    seen = 0
    while max_messages is None or seen < max_messages:
        batch = min(10, max_messages - seen) if max_messages is not None else 10
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=batch,
            WaitTimeSeconds=1,  # long polling: an empty answer means empty, not "this server had none"
            VisibilityTimeout=visibility_timeout,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            seen += 1
            receipt, body = message["ReceiptHandle"], message["Body"]
            if dry_run:
                log(f"{message['MessageId']}: {why_it_failed(body, message.get('MessageAttributes', {}))}")
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
                continue
            try:
                payload = original_payload(body)
            except ValueError:
                report.unreadable += 1
                log(f"{message['MessageId']}: not JSON, left in the queue")
                continue
            try:
                invoke(payload)
            except Exception as error:  # noqa: BLE001 - reported, and the message stays for the next run
                report.failed += 1
                log(f"{message['MessageId']}: {error}")
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt)
            report.redriven += 1
        if dry_run:
            break  # the messages were made visible again: one page shows what is there
    return report


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def main(argv: list[str] | None = None, *, session: Any = None, invoke: Invoke | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m archie_tools.redrive", description=__doc__.split("\n")[0])
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--queue", required=True, choices=sorted(QUEUES))
    parser.add_argument("--max-messages", type=int, default=None, help="stop after this many messages")
    parser.add_argument("--visibility-timeout", type=int, default=300, help="seconds a failed message stays hidden")
    parser.add_argument("--dry-run", action="store_true", help="list the messages and why they failed; change nothing")
    args = parser.parse_args(argv)
    if session is None:
        import boto3

        session = boto3.session.Session()
    outputs = stack_outputs(session.client("cloudformation"), args.stack_name)
    queue_output, function_output = QUEUES[args.queue]
    queue_url, function_name = outputs[queue_output], outputs[function_output]
    if invoke is None:
        invoke = lambda_invoker(session.client("lambda"), function_name)
    report = redrive(
        session.client("sqs"),
        queue_url,
        invoke,
        max_messages=args.max_messages,
        visibility_timeout=args.visibility_timeout,
        dry_run=args.dry_run,
    )
    print(report.line())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
