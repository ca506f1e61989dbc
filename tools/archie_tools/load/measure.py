"""What limited a run, from measurements taken around it, not from a guess.

Every component of the local stack has a ceiling: the stack's process (local API Gateway, authorizer, echo
function, audit ingest and compactor: Python threads under one GIL, so about one core), moto's server (its
own process, one request at a time: one core), the client's process (one GIL: one core), each function's
single local instance (one event at a time: busy 100% of the time at most), and the machine's cores. CPU
time comes from the kernel (/proc, getrusage), instance occupancy from the local stack's own counters
(archie_local.lambdas.Occupancy). The component closest to its ceiling is what limited the rate, unless the
target was met, in which case the target did."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.endpoint

from archie_local.lambdas import running_function

SATURATED = 0.9  # of a ceiling: a component this busy cannot absorb more load
MET = 0.95  # of the target rate, with nothing left unsent: the target was reached


def process_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) a process has used, from /proc; None where there is no /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float] | None:
    """(busy, total) CPU ticks of the whole machine, every core, from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    ticks = [int(v) for v in first[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return float(sum(ticks) - idle), float(sum(ticks))


def caller() -> str:
    """Who is making an AWS call on this thread: the local function running on it, else the thread's name
    without its number (`pool:compact` is the compactor's worker pool, `pool:audit` the ingest's,
    `pool:roles` the verifier's; `logs-emulator`, `scheduler-emulator`: the local stack's own)."""
    function = running_function()
    if function is not None:
        return function
    name = threading.current_thread().name
    if name.endswith(")") and " (" in name:  # "Thread-7 (process_request_thread)": an unnamed thread's target
        return f"thread:{name[name.index(' (') + 2 : -1]}"
    prefix, _, number = name.rpartition("_")
    return f"pool:{prefix.split('-')[0]}" if prefix and number.isdigit() else name


class AwsCalls:
    """Time this process spends in AWS calls, by caller (see `caller`), and how long moto's server was
    occupied: moto answers one request at a time and only this process calls it, so it is busy exactly while
    at least one call to it is outstanding here (botocore's own time on either side of a call included).
    Callers' seconds include queueing for moto, so they add up to more than the wall time when several wait
    at once. Counts while installed (a `with` block)."""

    def __init__(self, moto_url: str) -> None:
        self._moto_host = moto_url.rstrip("/")
        self._totals: dict[str, list[float]] = {}
        self._outstanding = 0
        self._occupied = 0.0
        self._since = 0.0
        self._lock = threading.Lock()
        self._original: Callable[..., Any] = botocore.endpoint.Endpoint.make_request

    def __enter__(self) -> AwsCalls:
        calls, original = self, self._original

        def timed(endpoint: Any, *args: Any, **kwargs: Any) -> Any:
            to_moto = str(getattr(endpoint, "host", "")).rstrip("/") == calls._moto_host
            began = calls._begin(to_moto)
            try:
                return original(endpoint, *args, **kwargs)
            finally:
                calls._end(caller(), began, to_moto)

        botocore.endpoint.Endpoint.make_request = timed
        return self

    def __exit__(self, *exc: object) -> None:
        botocore.endpoint.Endpoint.make_request = self._original

    def _begin(self, to_moto: bool) -> float:
        now = time.perf_counter()
        if to_moto:
            with self._lock:
                if self._outstanding == 0:
                    self._since = now
                self._outstanding += 1
        return now

    def _end(self, name: str, began: float, to_moto: bool) -> None:
        now = time.perf_counter()
        with self._lock:
            total = self._totals.setdefault(name, [0, 0.0])
            total[0] += 1
            total[1] += now - began
            if to_moto:
                self._outstanding -= 1
                if self._outstanding == 0:
                    self._occupied += now - self._since

    def snapshot(self) -> tuple[dict[str, tuple[int, float]], float]:
        """(calls and seconds by caller, seconds moto has been occupied) so far."""
        with self._lock:
            occupied = self._occupied + (time.perf_counter() - self._since if self._outstanding else 0.0)
            return {name: (int(n), seconds) for name, (n, seconds) in self._totals.items()}, occupied


@dataclass
class Sample:
    at: float
    stack_cpu: float
    moto_cpu: float | None
    machine: tuple[float, float] | None
    occupancy: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    aws: dict[str, tuple[int, float]] = field(default_factory=dict)
    moto_occupied: float = 0.0


def take_sample(stack: Any, aws: AwsCalls) -> Sample:
    """The counters of the running stack (an archie_local.stack.LocalStack) and of this machine, now."""
    times = os.times()
    occupancy = {name: fn.occupancy.snapshot() for name, fn in stack.registry.by_id.items()}
    occupancy.update({f"gateway:{name}": gateway.occupancy.snapshot() for name, gateway in stack.gateways.items()})
    return Sample(
        time.monotonic(),
        times.user + times.system,
        process_cpu(stack.moto.pid),
        machine_cpu(),
        occupancy,
        *aws.snapshot(),
    )


def _share(value: float | None, wall: float) -> float | None:
    return None if value is None else round(value / wall, 3)


def utilization(before: Sample, after: Sample, client_cpu: float, client_wall: float) -> dict[str, Any]:
    """Each component's use of its ceiling over the window, and where the time of calls went."""
    wall = after.at - before.at
    moto = None if after.moto_cpu is None or before.moto_cpu is None else after.moto_cpu - before.moto_cpu
    aws = {
        caller: (calls - before.aws.get(caller, (0, 0.0))[0], seconds - before.aws.get(caller, (0, 0.0))[1])
        for caller, (calls, seconds) in after.aws.items()
    }
    functions: dict[str, Any] = {}
    gateways: dict[str, float] = {}
    for name, (calls, busy, waited) in after.occupancy.items():
        was = before.occupancy.get(name, (0, 0.0, 0.0))
        n = calls - was[0]
        if n <= 0:
            continue
        if name.startswith("gateway:"):
            gateways[name.removeprefix("gateway:")] = round((busy - was[1]) / n * 1000, 3)
            continue
        aws_calls, aws_seconds = aws.get(name, (0, 0.0))
        functions[name] = {
            "calls": n,
            "busy": round((busy - was[1]) / wall, 3),
            "ms_per_call": round((busy - was[1]) / n * 1000, 2),
            "aws_ms_per_call": round(aws_seconds / n * 1000, 2),
            "aws_calls": aws_calls,
            "queued_ms_per_call": round((waited - was[2]) / n * 1000, 2),
        }
    cores: dict[str, float | None] = {
        "stack_process": _share(after.stack_cpu - before.stack_cpu, wall),
        "moto_server": _share(moto, wall),
        "client_process": _share(client_cpu, client_wall),
    }
    figures: dict[str, Any] = {
        "window_s": round(wall, 2),
        "cores": cores,
        "moto_occupied": round((after.moto_occupied - before.moto_occupied) / wall, 3),
    }
    if before.machine and after.machine:
        count = os.cpu_count() or 1
        busy_share = (after.machine[0] - before.machine[0]) / max(1.0, after.machine[1] - before.machine[1])
        figures["machine"] = {"cores": count, "busy": round(busy_share, 3)}
        cores["other_processes"] = round(max(0.0, busy_share * count - sum(v or 0.0 for v in cores.values())), 3)
    figures["functions"] = dict(sorted(functions.items(), key=lambda item: -item[1]["busy"]))
    figures["gateway_ms_per_request"] = gateways
    figures["aws_calls_by_caller"] = {
        name: {"calls": calls, "seconds": round(seconds, 2)}
        for name, (calls, seconds) in sorted(aws.items(), key=lambda item: -item[1][1])
        if calls
    }
    return figures


def _evidence(name: str, figures: dict[str, Any]) -> str:
    """What was measured about one component, in a sentence."""
    cores = figures["cores"]
    if name in figures["functions"]:
        f = figures["functions"][name]
        return (
            f"{name}'s one local instance was busy {f['busy']:.0%} of the time: {f['calls']} calls of "
            f"{f['ms_per_call']:g} ms, {f['aws_ms_per_call']:g} ms of each in AWS calls to moto, and callers "
            f"queued {f['queued_ms_per_call']:g} ms for it"
        )
    if name == "moto_server":
        callers = list(figures["aws_calls_by_caller"].items())[:3]
        share = ", ".join(f"{name} {f['calls']} calls, {f['seconds']:g}s" for name, f in callers)
        return (
            f"moto's server (one request at a time) was occupied {figures['moto_occupied']:.0%} of the time, "
            f"using {cores[name]} of a core; time in AWS calls by caller: {share}"
        )
    if name == "stack_process":
        return f"the stack's process (gateway, functions, audit ingest: one GIL) used {cores[name]:.2f} of a core"
    if name == "client_process":
        return f"the load client's process (one GIL) used {cores[name]:.2f} of a core"
    machine = figures.get("machine", {})
    other = cores.get("other_processes")
    return (
        f"the machine's {machine.get('cores')} cores were {machine.get('busy', 0):.0%} busy, "
        f"{other} cores of it by other processes"
    )


def limited_by(
    figures: dict[str, Any], achieved: float, target: float, unsent: int, in_flight: float, threads: int
) -> dict[str, Any]:
    """The component that limited the rate and the measurement that says so. Each candidate is compared with
    its own ceiling (one core for a Python process, always busy for a single instance); the most saturated of
    the stack's components is named, the machine only when none of them is."""
    utilizations = {name: f["busy"] for name, f in figures["functions"].items()}
    for name in ("stack_process", "client_process"):
        if figures["cores"].get(name) is not None:
            utilizations[name] = figures["cores"][name]
    utilizations["moto_server"] = figures["moto_occupied"]
    ranked = sorted(utilizations.items(), key=lambda item: -item[1])
    machine_busy = figures.get("machine", {}).get("busy", 0.0)
    busiest = _evidence(ranked[0][0], figures) if ranked else "nothing measured"
    if achieved >= MET * target and unsent == 0:
        return {"component": "target_rate", "why": f"the target of {target:g}/s was met; the busiest: {busiest}"}
    saturated = [name for name, value in ranked if value >= SATURATED]
    if saturated:
        why = "; ".join(_evidence(name, figures) for name in saturated)
        if machine_busy >= SATURATED:
            why += "; " + _evidence("machine", figures)
        return {"component": saturated[0], "why": why}
    if machine_busy >= SATURATED:
        return {"component": "machine", "why": f"{_evidence('machine', figures)}; the busiest of ours: {busiest}"}
    if in_flight >= SATURATED * threads:
        return {
            "component": "client_threads",
            "why": f"all {threads} client threads were waiting on answers ({in_flight:g} in flight on average) "
            f"and nothing was saturated (the busiest: {busiest}): more THREADS would send more",
        }
    return {"component": "latency", "why": f"nothing was saturated; the busiest: {busiest}"}
