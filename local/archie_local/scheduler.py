"""EventBridge Scheduler's one-time schedules, emulated: moto stores the schedules the service creates; this
thread fires each `at(...)` schedule when it is due by invoking its target function in-process with its
Input, then deletes it (ActionAfterCompletion=DELETE)."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from archie_local.lambdas import FunctionRegistry

logger = logging.getLogger("archie_local.scheduler")


def due_epoch(expression: str) -> float | None:
    if not (expression.startswith("at(") and expression.endswith(")")):
        return None
    return datetime.strptime(expression[3:-1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()


class SchedulerEmulator:
    def __init__(self, client: Any, groups: list[str], registry: FunctionRegistry, interval: float = 0.25) -> None:
        self._client = client
        self._groups = groups
        self._registry = registry
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler-emulator", daemon=True)
        self.fired: list[dict[str, Any]] = []

    def start(self) -> SchedulerEmulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.fire_due()
            except Exception:
                logger.exception("scheduler emulation failed")

    def fire_due(self, now: float | None = None) -> int:
        current = datetime.now(UTC).timestamp() if now is None else now
        fired = 0
        for group in self._groups:
            for summary in self._client.list_schedules(GroupName=group).get("Schedules", []):
                schedule = self._client.get_schedule(Name=summary["Name"], GroupName=group)
                due = due_epoch(schedule.get("ScheduleExpression", ""))
                if due is None or due > current:
                    continue
                target = schedule["Target"]
                function = self._registry.by_arn.get(target["Arn"])
                if function is not None:
                    # Scheduler invokes Lambda asynchronously: a failing flush is the function's to retry and
                    # then send to its dead-letter queue; the schedule itself has done its work.
                    payload = json.loads(target.get("Input") or "{}")
                    function.invoke_async(payload)
                    self.fired.append(payload)
                    fired += 1
                self._client.delete_schedule(Name=summary["Name"], GroupName=group)
        return fired
