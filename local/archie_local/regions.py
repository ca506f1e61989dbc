"""`make run REGIONS=us-east-1,eu-west-1`: one local stack per region, each in a process of its own with its own
moto server (separate regions share nothing but replication), the keys table replicated between them by
archie_local.replication, and a fault switch for tests.

The first region is the primary (the template's Regions parameter, first entry): it creates the global table
and the secrets, bootstraps, and serves on PORT/SAMPLE_PORT. Each other region gets the primary's secrets as
Secrets Manager replicates them (the same pepper: the admin key verifies everywhere) and serves on
SECOND_PORT/SECOND_SAMPLE_PORT (default PORT + 2, SAMPLE_PORT + 2). stdout: the one `admin key:` line;
stderr: a `region <name>:` line per region and the fault switch's address. Each region's own output goes to
its log file (`.local-stack-<region>.log`).

Each region's functions read the other's audit (`GET /audit`, a key's usage, a guarded delete) from its moto
server, as they read another region's table on AWS: ARCHIE_REGIONS comes from the template's Regions;
AUDIT_TABLES and REGION_ENDPOINTS, which a stack on AWS does not need, from here.

The fault switch (HTTP on 127.0.0.1): GET /status; POST /replication {"on": false|true}; POST
/regions/<name>/down and /regions/<name>/up (the region's processes stopped with SIGSTOP: its endpoints stop
answering, as an unreachable region's do; SIGCONT brings it back).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import boto3

from archie_local.moto_server import free_port
from archie_local.provision import local_table_name
from archie_local.replication import Region, Replicator

START_SECONDS = 180


def _start(region: str, args: argparse.Namespace, ports: tuple[int, int, int], env: dict[str, str], log: Path) -> Any:
    command = [
        sys.executable, "-m", "archie_local", "run",
        "--port", str(ports[0]), "--sample-port", str(ports[1]), "--moto-port", str(ports[2]),
        "--oidc-port", "0" if env.get("ARCHIE_LOCAL_REPLICA_ONLY") else str(args.oidc_port),
        "--state-file", f"{Path(args.state_file).with_suffix('')}-{region}.json",
        "--log-file", str(log),
        "--regions", "",
        "--project", args.project, "--environment", args.environment,
    ]  # fmt: skip
    errors: IO[bytes] = log.with_suffix(".stderr").open("wb")
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command,
        env={**os.environ, **env, "ARCHIE_LOCAL_REGION": region, "REGIONS": ""},
        stdout=subprocess.PIPE,
        stderr=errors,
        start_new_session=True,  # its own process group: its moto server stops and goes on with it
    )


def _wait_state(path: Path, process: Any, deadline: float) -> dict[str, str]:
    while time.monotonic() < deadline:
        if path.exists():
            try:
                return dict(json.loads(path.read_text()))
            except ValueError:
                pass  # being written
        if process.poll() is not None:
            raise RuntimeError(f"the local stack of {path.stem} exited ({process.returncode})")
        time.sleep(0.1)
    raise TimeoutError(f"the local stack of {path.stem} did not start in {START_SECONDS} s")


def _cross_region_environment(name: str, moto_urls: dict[str, str]) -> dict[str, str]:
    """What a region's functions are given to read the other regions' audit tables (aws.regional_audit), as a
    stack on AWS finds them from each region's stack: every region's audit table by name (each local region
    names its tables alike) and each other region's moto server as that region's endpoint. ARCHIE_REGIONS,
    the list itself, comes from the template's Regions parameter."""
    audit_table = local_table_name("AuditTable")
    return {
        "AUDIT_TABLES": ",".join(f"{region}={audit_table}" for region in moto_urls),
        "REGION_ENDPOINTS": ",".join(f"{region}={url}" for region, url in moto_urls.items() if region != name),
    }


def _secret_values(connection: dict[str, str]) -> dict[str, str]:
    """The primary's pepper and tag keys by their names (the last part of their ARNs): value and version id, as
    replicas hold them."""
    client = boto3.client(
        "secretsmanager",
        region_name=connection["AWS_DEFAULT_REGION"],
        endpoint_url=connection["AWS_ENDPOINT_URL"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    replicas = {}
    for name in ("PEPPER_SECRET_ID", "KEY_TAG_SECRET_ID"):
        current = client.get_secret_value(SecretId=connection[name])
        # A key records the pepper version it was hashed with: a replica keeps the primary's version ids.
        replicas[connection[name].split(":")[-1]] = json.dumps(
            {"value": current["SecretString"], "version": current["VersionId"]}
        )
    return replicas


class FaultSwitch:
    def __init__(self, replicator: Replicator, processes: dict[str, Any]) -> None:
        self.replicator = replicator
        self.processes = processes

    def set_down(self, name: str, down: bool) -> None:
        region = self.replicator.regions[name]
        region.up = not down
        os.killpg(self.processes[name].pid, signal.SIGSTOP if down else signal.SIGCONT)

    def serve(self) -> ThreadingHTTPServer:
        switch = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer(200, switch.replicator.status())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                parts = self.path.strip("/").split("/")
                if parts == ["replication"] and isinstance(body.get("on"), bool):
                    switch.replicator.replicating = body["on"]
                elif len(parts) == 3 and parts[0] == "regions" and parts[1] in switch.processes:
                    if parts[2] not in ("down", "up"):
                        return self._answer(404, {"message": "down or up"})
                    switch.set_down(parts[1], parts[2] == "down")
                else:
                    return self._answer(404, {"message": "POST /replication {on} or /regions/<name>/down|up"})
                return self._answer(200, switch.replicator.status())

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, name="fault-switch", daemon=True).start()
        return server


def run_regions(args: argparse.Namespace) -> int:
    names = [r.strip() for r in args.regions.split(",") if r.strip()]
    if len(set(names)) != len(names):
        raise SystemExit("REGIONS names a region twice")
    second = (args.second_port or args.port + 2, args.second_sample_port or args.sample_port + 2)
    if len(names) > 2:
        raise SystemExit("the local stack runs two regions (PORT/SAMPLE_PORT, SECOND_PORT/SECOND_SAMPLE_PORT)")
    # Each region's moto port is chosen before any region starts: the first region's functions read the
    # second's audit through it, and the second starts only once the first has (it needs the primary's secrets).
    moto_ports = [free_port() for _ in names]
    ports = [(*pair, moto) for pair, moto in zip([(args.port, args.sample_port), second], moto_ports, strict=False)]
    moto_urls = {name: f"http://127.0.0.1:{port}" for name, port in zip(names, moto_ports, strict=True)}
    log = Path(args.log_file)
    parameters = {"Regions": ",".join(names)}
    processes: dict[str, Any] = {}
    connections: dict[str, dict[str, str]] = {}
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    replicator: Replicator | None = None
    server: ThreadingHTTPServer | None = None
    try:
        deadline = time.monotonic() + START_SECONDS
        primary = names[0]
        env = {
            "ARCHIE_LOCAL_PARAMETERS": json.dumps(parameters),
            "ARCHIE_LOCAL_ENVIRONMENT": json.dumps(_cross_region_environment(primary, moto_urls)),
        }
        processes[primary] = _start(primary, args, ports[0], env, log.with_name(f"{log.stem}-{primary}{log.suffix}"))
        state = Path(f"{Path(args.state_file).with_suffix('')}-{primary}.json")
        connections[primary] = _wait_state(state, processes[primary], deadline)
        key_line = processes[primary].stdout.readline().decode().strip()
        replicas = _secret_values(connections[primary])
        for index, name in enumerate(names[1:], start=1):
            # Outside the primary: its secrets' ARNs, and a stream for the template's consumer to name (the
            # local event source mapping is the replicator, which reads this region's real stream).
            region_parameters = {
                **parameters,
                "PrimaryPepperSecretArn": connections[primary]["PEPPER_SECRET_ID"],
                "PrimaryKeyTagSecretArn": connections[primary]["KEY_TAG_SECRET_ID"],
                "KeysTableStreamArn": f"arn:aws:dynamodb:{name}:123456789012:table/archie-local-keys/stream/local",
            }
            env = {
                "ARCHIE_LOCAL_PARAMETERS": json.dumps(region_parameters),
                "ARCHIE_LOCAL_REPLICA_SECRETS": json.dumps(replicas),
                "ARCHIE_LOCAL_REPLICA_ONLY": "1",
                "ARCHIE_LOCAL_ENVIRONMENT": json.dumps(_cross_region_environment(name, moto_urls)),
            }
            processes[name] = _start(name, args, ports[index], env, log.with_name(f"{log.stem}-{name}{log.suffix}"))
            state = Path(f"{Path(args.state_file).with_suffix('')}-{name}.json")
            connections[name] = _wait_state(state, processes[name], deadline)
        replicator = Replicator([Region(name, connections[name]) for name in names]).start()
        server = FaultSwitch(replicator, processes).serve()
        for name in names:
            management, sample = connections[name]["MANAGEMENT_URL"], connections[name]["SAMPLE_URL"]
            print(f"region {name}: management API {management}/ sample API {sample}/orders", file=sys.stderr)
        print(f"fault switch: http://127.0.0.1:{server.server_address[1]}", file=sys.stderr, flush=True)
        print(key_line, flush=True)
        while not stop.wait(0.5):
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"region {name} stopped ({process.returncode})", file=sys.stderr)
                    stop.set()
    finally:
        if server is not None:
            server.shutdown()
        if replicator is not None:
            replicator.stop()
        for process in processes.values():
            try:
                os.killpg(process.pid, signal.SIGCONT)
                process.terminate()
                process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                process.kill()
    print("stopped", file=sys.stderr)
    return 0
