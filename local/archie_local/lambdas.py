"""Load and invoke the very handlers Lambda runs, as the template names them (CodeUri + Handler).

Lambda puts a function's CodeUri on sys.path and imports its handler module; here each handler module is
loaded from its file under a unique module name, so functions never collide and nothing edits sys.path.
The shared package is imported exactly as on Lambda: `archie_keys`, installed (like the layer) into the
environment.

One lock per function: a Lambda execution environment handles one event at a time, and handlers keep
per-invocation state on module-level objects (Powertools resolvers), so concurrent requests to the same
function are served one after another, as a single warm instance would.
"""

from __future__ import annotations

import importlib.util
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archie_local.provision import function_arn
from archie_local.template import FunctionSpec

Handler = Callable[[dict[str, Any], Any], Any]


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


class LocalFunction:
    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self.arn = function_arn(spec.logical_id)
        self._handler: Handler | None = None
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            if self._handler is None:
                self._handler = load_handler(self.spec)
            context = LocalContext(
                function_name=self.spec.logical_id,
                memory_limit_in_mb=self.spec.memory_mb,
                timeout_s=self.spec.timeout_s,
                invoked_function_arn=self.arn,
                aws_request_id=str(uuid.uuid4()),
                log_group_name=f"/aws/lambda/{self.spec.logical_id}",
            )
            return self._handler(event, context)


class FunctionRegistry:
    def __init__(self, specs: dict[str, FunctionSpec]) -> None:
        self.by_id = {name: LocalFunction(spec) for name, spec in specs.items()}
        self.by_arn = {fn.arn: fn for fn in self.by_id.values()}

    def __getitem__(self, logical_id: str) -> LocalFunction:
        return self.by_id[logical_id]
