"""EventBridge Scheduler's one-time schedules, emulated: moto stores the schedules the service creates; this
thread fires each `at(...)` schedule when it is due by invoking its target function asynchronously, in-process,
with its Input, then deletes it (ActionAfterCompletion=DELETE). It fires at the second given, where AWS fires
within the minute (app.expiry plans for that)."""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from archie_local.lambdas import FunctionRegistry
from archie_local.template import FunctionSpec

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
                function = self._registry.find(target["Arn"])
                if function is not None:
                    # Scheduler invokes Lambda asynchronously: a failing flush is the function's to retry and
                    # then send to its dead-letter queue; the schedule itself has done its work (and the next
                    # schedule is not held up by a function that waits for its moment).
                    payload = json.loads(target.get("Input") or "{}")
                    self._registry.start_async(function, payload)
                    self.fired.append(payload)
                    fired += 1
                self._client.delete_schedule(Name=summary["Name"], GroupName=group)
        return fired


_RATE = re.compile(r"^rate\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """The period of a `rate(...)` schedule expression, or None for any other expression."""
    match = _RATE.match(expression)
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


@dataclass(frozen=True)
class Recurring:
    function: str
    rate_seconds: float
    payload: dict[str, Any]


def recurring_schedules(specs: dict[str, FunctionSpec]) -> list[Recurring]:
    """The template's recurring schedules: every function event of type ScheduleV2 with a rate."""
    found = []
    for name, spec in specs.items():
        for event in spec.events.values():
            if event.get("Type") != "ScheduleV2":
                continue
            props = event.get("Properties", {})
            seconds = rate_seconds(str(props.get("ScheduleExpression", "")))
            if seconds is not None:
                found.append(Recurring(name, seconds, json.loads(props.get("Input") or "{}")))
    return found


class RecurringScheduler:
    """Runs the template's recurring schedules locally: each function is invoked with its schedule's Input,
    once per `period` seconds instead of its rate (on one machine, waiting a minute shows nothing that
    waiting a second does not), one run at a time as the template reserves. A failed run is logged and left
    to the next, as the template's RetryPolicy (no retries) does."""

    def __init__(self, schedules: list[Recurring], registry: FunctionRegistry, period: float) -> None:
        self.schedules = schedules
        self._registry = registry
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recurring-schedules", daemon=True)
        self.runs = 0

    def start(self) -> RecurringScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self.run_all()

    def run_all(self) -> None:
        for schedule in self.schedules:
            try:
                self._registry[schedule.function].invoke(schedule.payload)
            except Exception:
                logger.exception("the scheduled run of %s failed", schedule.function)
        self.runs += 1
