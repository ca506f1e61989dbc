"""Load and invoke the very handlers Lambda runs, as the template names them (CodeUri + Handler).

Lambda puts a function's CodeUri on sys.path and imports its handler module; here each handler module is
loaded from its file under a unique module name, so functions never collide and nothing edits sys.path.
The shared package is imported exactly as on Lambda: `archie_keys`, installed (like the layer) into the
environment.

One lock per instance: a Lambda execution environment handles one event at a time, and handlers keep
per-invocation state on module-level objects (Powertools resolvers). Requests through a gateway are served by
one instance, one after another, as a single warm instance would. Asynchronous invocations (log
subscriptions, schedules, Lambda's Invoke with InvocationType Event: `FunctionRegistry.start_async`) run as
Lambda runs them: each on an instance of its own when the others are busy (an expiry flush waiting for its
second must not hold up the next one), and an event that fails is tried again (twice, here at once rather
than after one and two minutes), then its invocation record goes to the function's on-failure destination,
as Lambda writes it.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from archie_keys.domain import clock
from archie_local.provision import function_arn
from archie_local.template import FunctionSpec

Handler = Callable[[dict[str, Any], Any], Any]
# (the function's spec, the invocation record) for an asynchronous event that failed every attempt.
DeadLetters = Callable[[FunctionSpec, dict[str, Any]], None]

logger = logging.getLogger("archie_local.lambdas")

ASYNC_ATTEMPTS = 3  # Lambda's default: the first attempt and two retries (MaximumRetryAttempts: 2)
# Instances of one function at once (Lambda scales further; one machine need not).
MAX_INSTANCES = 16

_running = threading.local()

# Set while a registry hurries its asynchronous invocations to their end (wait_idle(hurry=True)): a function
# waiting for a moment (an expiry flush invoked for a second a minute away) goes on at once instead.
_hurry = threading.Event()


def _wait_unless_hurried(seconds: float) -> None:
    _hurry.wait(seconds)


clock.install_waiter(_wait_unless_hurried)


def running_function() -> str | None:
    """The logical id of the function this thread is running now, if any: in-process, every function's AWS
    calls come from the same botocore, and `make load` tells them apart by this."""
    return getattr(_running, "function", None)


def invocation_record(function_arn: str, event: Any, error: BaseException, attempts: int) -> dict[str, Any]:
    """What Lambda sends to an on-failure destination when an asynchronous event failed every attempt."""
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": str(error), "errorType": type(error).__name__, "stackTrace": []},
    }


@dataclass
class Occupancy:
    """How busy something of the local stack has been: calls, seconds spent serving them and seconds callers
    queued for it. `make load` reads these to say which component limited a run (archie_tools.load)."""

    calls: int = 0
    busy_seconds: float = 0.0
    waited_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, busy: float, waited: float = 0.0) -> None:
        with self._lock:
            self.calls += 1
            self.busy_seconds += busy
            self.waited_seconds += waited

    def snapshot(self) -> tuple[int, float, float]:
        with self._lock:
            return self.calls, self.busy_seconds, self.waited_seconds


@dataclass
class LocalContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    invoked_function_arn: str
    aws_request_id: str
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(spec: FunctionSpec) -> Handler:
    module_name, _, attribute = spec.handler.rpartition(".")
    path = spec.code_uri / f"{module_name}.py"
    unique = f"archie_fn_{spec.logical_id}"
    module_spec = importlib.util.spec_from_file_location(unique, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    handler: Handler = getattr(module, attribute)
    return handler


class _Instance:
    """One execution environment: its own copy of the handler's module, one event at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.handler: Handler | None = None


class LocalFunction:
    def __init__(self, spec: FunctionSpec, dead_letters: DeadLetters | None = None) -> None:
        self.spec = spec
        self.arn = function_arn(spec.logical_id)
        self._instances = [_Instance()]
        self._pool_lock = threading.Lock()
        self._dead_letters = dead_letters
        self.occupancy = Occupancy()

    def invoke_async(self, event: dict[str, Any]) -> bool:
        """Run an asynchronous invocation; False when every attempt failed (the record then went to the
        on-failure destination, if the function has one and the stack sends them)."""
        for attempt in range(1, ASYNC_ATTEMPTS + 1):
            try:
                self.invoke(event, concurrently=True)
                return True
            except Exception as error:
                logger.warning("%s failed (attempt %d of %d)", self.spec.logical_id, attempt, ASYNC_ATTEMPTS)
                if attempt == ASYNC_ATTEMPTS:
                    logger.exception("%s: retries exhausted", self.spec.logical_id)
                    if self._dead_letters is not None and self.spec.on_failure is not None:
                        self._dead_letters(self.spec, invocation_record(self.arn, event, error, attempt))
        return False

    def _instance(self, concurrently: bool) -> _Instance:
        """An instance, its lock held: the first one, or (concurrently) any idle one, a new one when every
        instance is busy (up to MAX_INSTANCES; then the first, waited for)."""
        if concurrently:
            with self._pool_lock:
                for instance in self._instances:
                    if instance.lock.acquire(blocking=False):
                        return instance
                if len(self._instances) < MAX_INSTANCES:
                    instance = _Instance()
                    instance.lock.acquire()
                    self._instances.append(instance)
                    return instance
        instance = self._instances[0]
        instance.lock.acquire()
        return instance

    def invoke(self, event: dict[str, Any], *, concurrently: bool = False) -> Any:
        asked = time.perf_counter()
        instance = self._instance(concurrently)
        began = time.perf_counter()
        outer, _running.function = running_function(), self.spec.logical_id
        try:
            if instance.handler is None:
                instance.handler = load_handler(self.spec)
            context = LocalContext(
                function_name=self.spec.logical_id,
                memory_limit_in_mb=self.spec.memory_mb,
                timeout_s=self.spec.timeout_s,
                invoked_function_arn=self.arn,
                aws_request_id=str(uuid.uuid4()),
                log_group_name=f"/aws/lambda/{self.spec.logical_id}",
            )
            return instance.handler(event, context)
        finally:
            _running.function = outer
            instance.lock.release()
            self.occupancy.add(time.perf_counter() - began, began - asked)


class FunctionRegistry:
    def __init__(self, specs: dict[str, FunctionSpec], dead_letters: DeadLetters | None = None) -> None:
        self.by_id = {name: LocalFunction(spec, dead_letters) for name, spec in specs.items()}
        self.by_arn = {fn.arn: fn for fn in self.by_id.values()}
        self._background: list[threading.Thread] = []
        self._background_lock = threading.Lock()

    def __getitem__(self, logical_id: str) -> LocalFunction:
        return self.by_id[logical_id]

    def find(self, name: str) -> LocalFunction | None:
        """A function by what Lambda's Invoke accepts: its name, its ARN, or its ARN with a qualifier."""
        if name in self.by_id:
            return self.by_id[name]
        arn = name if name.count(":") <= 6 else name.rsplit(":", 1)[0]
        return self.by_arn.get(arn)

    def start_async(self, function: LocalFunction, event: dict[str, Any]) -> threading.Thread:
        """Lambda's asynchronous invocation: accepted at once, run on a thread of its own (with retries and
        the dead-letter destination, as invoke_async does)."""
        thread = threading.Thread(
            target=function.invoke_async, args=(event,), name=f"async-{function.spec.logical_id}", daemon=True
        )
        with self._background_lock:
            self._background = [t for t in self._background if t.is_alive()]
            self._background.append(thread)
        thread.start()
        return thread

    def wait_idle(self, timeout: float, *, hurry: bool = False) -> bool:
        """Wait (bounded) until every asynchronous invocation started so far, and those they started, ended.
        hurry: those waiting for a moment (clock.wait_seconds) stop waiting and go on at once, as a stack that
        is being stopped wants; they see their moment as come early (an expiry flush flushes early)."""
        if hurry:
            _hurry.set()
        try:
            return self._join_background(time.monotonic() + timeout)
        finally:
            _hurry.clear()

    def _join_background(self, deadline: float) -> bool:
        while True:
            with self._background_lock:
                running = [t for t in self._background if t.is_alive()]
            if not running:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            running[0].join(min(remaining, 0.5))
