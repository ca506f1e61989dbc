"""One load run, start to finish: the local stack on free loopback ports, many keys in demo/dev, the client
process driving the sample API through the local gateway for the duration, revocations mid-run, then the
audit settled and counted, and the stack stopped. Progress goes to stderr."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from archie_keys.domain.keyformat import parse_key
from archie_tools.load.audit import audit_check, records_by_request
from archie_tools.load.keys import forged_keys, malformed_keys
from archie_tools.load.measure import AwsCalls, Sample, limited_by, take_sample, utilization
from archie_tools.load.plan import Settings, build_plan
from archie_tools.load.verdict import RevocationOutcome, judge

PROJECT, ENVIRONMENT, ROLE = "demo", "dev", "load-orders-reader"
CREATE_THREADS = 4


class DeadlineError(RuntimeError):
    """The run passed its hard deadline."""


def say(message: str) -> None:
    print(f"make load: {message}", file=sys.stderr, flush=True)


def call(base: str, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)  # noqa: S310 - the stack's URL
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the local stack's URL
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def create_keys(base: str, admin: str, count: int) -> tuple[list[str], list[str]]:
    """`count` keys holding a role that reads `orders`, created through the management API."""
    env = f"/projects/{PROJECT}/environments/{ENVIRONMENT}"
    role = {"description": "make load", "permissions": [{"resource": "orders", "actions": ["read"]}]}
    status, body = call(base, "PUT", f"{env}/roles/{ROLE}", admin, role)
    if status not in (200, 201):
        raise RuntimeError(f"creating the role answered {status}: {body}")

    def create(i: int) -> tuple[str, str]:
        status, body = call(base, "POST", f"{env}/keys", admin, {"name": f"load-{i}", "roles": [ROLE]})
        if status != 201:
            raise RuntimeError(f"creating key {i} answered {status}: {body}")
        return str(body["key"]), str(body["key_id"])

    with ThreadPoolExecutor(CREATE_THREADS) as pool:
        created = list(pool.map(create, range(count)))
    return [value for value, _ in created], [key_id for _, key_id in created]


def read_lines(stream: IO[str], into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def next_line(lines: queue.Queue[str | None], deadline: float) -> str:
    try:
        line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        raise DeadlineError("the client did not answer before the deadline") from None
    if line is None:
        raise RuntimeError("the load client ended without a report")
    return line


def drive(stack: Any, settings: Settings, deadline: float, children: list[Any]) -> dict[str, Any]:
    """The run on a started stack; the client's process is added to `children` (the watchdog kills them)."""
    admin = stack.bootstrap(PROJECT, ENVIRONMENT)
    began = time.monotonic()
    say(f"creating {settings.keys} keys in {PROJECT}/{ENVIRONMENT}")
    issued, issued_ids = create_keys(stack.url(), admin, settings.keys)
    say(f"created {settings.keys} keys in {time.monotonic() - began:.1f}s")
    plan = build_plan(settings)
    prefix = parse_key(issued[0]).prefix
    orders = {
        "sample_url": stack.url("SampleApi"),
        "management_url": stack.url(),
        "admin": admin,
        "project": PROJECT,
        "environment": ENVIRONMENT,
        "duration": settings.duration,
        "threads": settings.threads,
        "issued": issued,
        "issued_ids": issued_ids,
        "forged": forged_keys(plan.forged_keys, prefix, PROJECT, ENVIRONMENT, set(issued_ids)),
        "malformed": malformed_keys(settings.malformed, issued),
        "requests": [[r.at, r.kind, r.ref, r.method, r.path] for r in plan.requests],
        "revocations": [[r.at, r.key] for r in plan.revocations],
    }
    say(
        f"{len(plan.requests)} requests at {settings.rate:g}/s for {settings.duration:g}s from {settings.threads} "
        f"threads; {len(plan.revocations)} revocations mid-run"
    )
    client = subprocess.Popen(
        [sys.executable, "-m", "archie_tools.load.client"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    children.append(client)
    try:
        assert client.stdin is not None and client.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=read_lines, args=(client.stdout, lines), daemon=True).start()
        client.stdin.write(json.dumps(orders))
        client.stdin.close()
        del orders  # key values are never written anywhere: they live in memory for the run only
        if next_line(lines, deadline).strip() != "started":
            raise RuntimeError("the load client did not start")
        with AwsCalls(stack.moto_url) as aws:
            before = take_sample(stack, aws)
            report = json.loads(next_line(lines, deadline))
            after = take_sample(stack, aws)
        client.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    return finish(stack, settings, plan, report, before, after, deadline)


def finish(
    stack: Any, settings: Settings, plan: Any, report: dict[str, Any], before: Sample, after: Sample, deadline: float
) -> dict[str, Any]:
    revocations = [RevocationOutcome(*r) for r in report["revocations"]]
    verdict = judge(plan, report["warm_up"], report["results"], revocations)
    figures = utilization(before, after, report["cpu_s"], report["wall_s"])
    # Client-observed time beside the gateway's own (authorizer and echo included): the difference is
    # sockets, the HTTP server's threads, the client, and waiting for a GIL on either side.
    figures["request_ms"] = {
        "client_observed_mean": verdict.counts["mean_ms"],
        "in_gateway_mean": figures["gateway_ms_per_request"].get("SampleApi", 0.0),
    }
    say(f"sent {verdict.counts['requests']} requests; settling the audit")
    settling = time.monotonic()
    stack.settle_audit(timeout=max(1.0, deadline - time.monotonic()))
    settle_s = time.monotonic() - settling
    records = records_by_request(stack.provisioned.environment["AUDIT_TABLE"])
    audit = audit_check(records, verdict.answered)
    warm_up_lost = audit_check(records, verdict.warm_up_answered)["lost"]
    for example in verdict.examples:
        say(f"violation: {example}")
    counts = verdict.counts
    headline = ("requests", "achieved_rps", "p50_ms", "p99_ms", "allowed", "refused")
    return {
        **{k: counts[k] for k in headline},
        "audited": audit["audited"],
        "lost": audit["lost"],
        "limited_by": limited_by(
            figures, counts["achieved_rps"], settings.rate, counts["unsent"], counts["mean_in_flight"], settings.threads
        ),
        "violations": dict(sorted(verdict.violations.items())),
        "target_rps": settings.rate,
        "duration_s": settings.duration,
        "keys": settings.keys,
        "seed": settings.seed,
        "threads": settings.threads,
        "forged_keys": plan.forged_keys,
        "malformed_keys": settings.malformed,
        "revoked_keys": len(plan.revocations),
        "revocation_ms": sorted(round((r.answered - r.sent) * 1000) for r in revocations),
        **{k: v for k, v in counts.items() if k not in headline},
        "warm_up_lost": warm_up_lost,
        "audit_duplicated": audit["audit_duplicated"],
        "audit_status_mismatch": audit["audit_status_mismatch"],
        "audit_settle_s": round(settle_s, 2),
        "measured": figures,
    }
