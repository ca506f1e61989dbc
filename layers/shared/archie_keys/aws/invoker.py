"""Lambda's asynchronous invocation (Invoke, InvocationType Event): the revocation worker started by a mass
revocation and re-invoked by itself with a cursor, and an expiry flush invoked directly when a key expires
too soon for EventBridge Scheduler to be early enough. Lambda queues the event and answers 202; it retries a
failed run twice, then sends the event to the function's on-failure destination."""

from __future__ import annotations

import json
from typing import Any


class AsyncInvoker:
    def __init__(self, client: Any) -> None:
        self.client = client

    def invoke(self, function: str, event: dict[str, Any]) -> None:
        """Queue `event` for `function` (its name or ARN); raises when Lambda did not accept it."""
        self.client.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(event).encode("utf-8"))
