"""`make run REGIONS=us-east-1,eu-west-1` on free ports, for the two-region tests and `make bench-regions`: its
admin key, each region's management and sample API, the fault switch, and calls to them. Stopped with SIGINT,
then killed with its process group."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from archie_keys.aws.key_store import KeyStore

REGIONS = ("us-east-1", "eu-west-1")
STARTUP_SECONDS = 240  # two stacks, one after the other, on a busy two-core machine
REGION_LINE = re.compile(r"region (\S+): management API (\S+)/ sample API (\S+)/orders")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def call(
    method: str,
    url: str,
    key: str | None = None,
    body: Any = None,
    timeout: float = 10,
    extra_headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """(status, JSON body or None); a refused connection or a timeout is status 0 (a region down)."""
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
    headers |= extra_headers or {}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw) if raw else None
        except ValueError:
            return error.code, None
    except (OSError, TimeoutError):
        return 0, None


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.02) -> float:
    """Seconds until `check()` held; raises after `timeout` seconds."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not within {timeout} s")
        time.sleep(step)
    return time.monotonic() - started


@dataclass
class TwoRegions:
    key: str
    management: dict[str, str] = field(default_factory=dict)
    sample: dict[str, str] = field(default_factory=dict)
    faults: str = ""
    state_files: dict[str, Path] = field(default_factory=dict)

    def keys_url(self, region: str) -> str:
        return f"{self.management[region]}/projects/demo/environments/dev/keys"

    def create_key(self, region: str, name: str) -> tuple[str, str]:
        status, body = call("POST", self.keys_url(region), self.key, {"name": name, "roles": ["admin"]})
        assert status == 201, (status, body)
        return body["key"], body["key_id"]

    def revoke(self, region: str, key_id: str) -> None:
        status, body = call("DELETE", f"{self.keys_url(region)}/{key_id}", self.key)
        assert status == 204, (status, body)

    def arrived(self, region: str, key_id: str) -> bool:
        """Whether the key's record has reached `region` (read through its management API, whose cache does
        not hold the key: presenting a key before it arrives caches its refusal, docs/regions.md)."""
        return call("GET", f"{self.keys_url(region)}/{key_id}", self.key)[0] == 200

    def sample_status(self, region: str, key: str, user_agent: str | None = None) -> int:
        """The sample API's answer to the key; `user_agent` tells its audit record apart from others."""
        headers = {"User-Agent": user_agent} if user_agent else None
        return call("GET", f"{self.sample[region]}/orders", key, timeout=5, extra_headers=headers)[0]

    def witnesses(self, region: str, key_id: str) -> dict[str, float]:
        """When each region's authorizer last recorded the key authorized, as `region`'s replica of the keys
        table holds it (read from its moto server with the service's own store)."""
        connection = json.loads(self.state_files[region].read_text())
        client = boto3.client(
            "dynamodb",
            region_name=region,
            endpoint_url=connection["AWS_ENDPOINT_URL"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        return KeyStore(connection["KEYS_TABLE"], client, region).authorizations("demo", "dev", key_id)

    def fault(self, path: str, body: Any = None) -> Any:
        status, answer = call(
            "POST" if body is not None or path != "/status" else "GET", self.faults + path, None, body
        )
        assert status == 200, (status, answer)
        return answer


@contextmanager
def two_regions() -> Iterator[TwoRegions]:
    folder = Path(tempfile.mkdtemp(prefix="archie-regions-"))
    ports = [free_port() for _ in range(4)]
    command = [
        sys.executable, "-m", "archie_local", "run", "--regions", ",".join(REGIONS),
        "--port", str(ports[0]), "--sample-port", str(ports[1]),
        "--second-port", str(ports[2]), "--second-sample-port", str(ports[3]), "--oidc-port", "0",
        "--state-file", str(folder / "state.json"), "--log-file", str(folder / "stack.log"),
    ]  # fmt: skip
    errors = (folder / "stderr").open("w")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=errors, text=True, start_new_session=True, env=dict(os.environ)
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # bounded: the program exits (EOF) when it fails to start
        assert line.startswith("admin key: "), (line, (folder / "stderr").read_text()[-2000:])
        run = TwoRegions(line.strip().removeprefix("admin key: "))
        # Each region's connection, as archie_local.regions has each region's process write it.
        run.state_files = {region: folder / f"state-{region}.json" for region in REGIONS}
        deadline = time.monotonic() + 10
        while not run.faults:
            assert time.monotonic() < deadline, (folder / "stderr").read_text()
            for text in (folder / "stderr").read_text().splitlines():
                if match := REGION_LINE.fullmatch(text):
                    run.management[match[1]], run.sample[match[1]] = match[2], match[3]
                if text.startswith("fault switch: "):
                    run.faults = text.removeprefix("fault switch: ")
            time.sleep(0.05)
        yield run
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        errors.close()
