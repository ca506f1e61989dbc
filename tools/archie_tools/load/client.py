"""`python -m archie_tools.load.client`: the client side of `make load`, in its own process.

It reads its orders as one JSON document on stdin (urls, key values, the plan), sends each planned request at
its moment from several threads over kept-alive connections, revokes the planned keys through the management
API at theirs, and writes two lines on stdout: `started` when the clock starts, then one JSON document with
what happened to every request. Key values arrive through the pipe and are never written anywhere.

Its own process, not threads of the stack's: the local gateway and the handlers are Python under one GIL, and
a client sharing it would slow the service it measures (and hide its own cost in the service's CPU time)."""

from __future__ import annotations

import http.client
import json
import resource
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from archie_tools.load.plan import FORGED, ISSUED, MALFORMED

REQUEST_TIMEOUT_SECONDS = 10


def loopback(url: str) -> tuple[str, int]:
    """Host and port of a local stack's URL; anything but 127.0.0.1 is refused: load goes nowhere else."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.port is None:
        raise SystemExit(f"make load sends requests to 127.0.0.1 only, not to {url}")
    return parts.hostname, parts.port


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Client:
    def __init__(self, orders: dict[str, Any]) -> None:
        self.sample = loopback(orders["sample_url"])
        self.management = loopback(orders["management_url"])
        self.orders = orders
        self.values = {ISSUED: orders["issued"], FORGED: orders["forged"], MALFORMED: orders["malformed"]}
        self.requests = orders["requests"]  # [at, kind, ref, method, path]
        self.results: list[list[Any] | None] = [None] * len(self.requests)
        self.revocations: list[list[Any]] = []
        self._next = 0
        self._lock = threading.Lock()
        self.start = 0.0

    def _take(self) -> int | None:
        """The next planned request, or None once the plan is done or the duration is over: a run that falls
        behind stops on time and says how many it did not send."""
        with self._lock:
            i = self._next
            if i >= len(self.requests) or time.monotonic() - self.start >= self.orders["duration"]:
                return None
            self._next += 1
            return i

    @staticmethod
    def _send(connection: http.client.HTTPConnection, method: str, path: str, key: str) -> tuple[int, str | None]:
        """(status, extended request id) of one request; status 0 when no answer came."""
        try:
            connection.request(method, path, headers={"Authorization": f"Bearer {key}"})
            response = connection.getresponse()
            response.read()
            if response.will_close:
                connection.close()
            return response.status, response.getheader("x-amz-apigw-id")
        except (OSError, http.client.HTTPException) as error:
            connection.close()  # reconnects on the next request
            return 0, type(error).__name__

    def _warm_up(self) -> list[list[Any]]:
        """Every issued key presented once before the clock starts, as keys in use are warm in production:
        the timed run then measures steady state (a cold decision's argon2 is `make bench`'s figure)."""
        connection = http.client.HTTPConnection(*self.sample, timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            return [list(self._send(connection, "GET", "/orders/warm-up", key)) for key in self.values[ISSUED]]
        finally:
            connection.close()

    def _worker(self) -> None:
        connection = http.client.HTTPConnection(*self.sample, timeout=REQUEST_TIMEOUT_SECONDS)
        while (i := self._take()) is not None:
            at, kind, ref, method, path = self.requests[i]
            delay = self.start + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent = time.monotonic()
            status, request_id = self._send(connection, method, path, self.values[kind][ref])
            self.results[i] = [sent - self.start, time.monotonic() - self.start, status, request_id]
        connection.close()

    def _revoke(self, at: float, key: int) -> None:
        delay = self.start + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        key_id = self.orders["issued_ids"][key]
        path = f"/projects/{self.orders['project']}/environments/{self.orders['environment']}/keys/{key_id}"
        connection = http.client.HTTPConnection(*self.management, timeout=60)
        sent = time.monotonic()
        try:
            connection.request("DELETE", path, headers={"Authorization": f"Bearer {self.orders['admin']}"})
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
        finally:
            connection.close()
        with self._lock:
            self.revocations.append([key, sent - self.start, time.monotonic() - self.start, status])

    def run(self) -> dict[str, Any]:
        threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.orders["threads"])]
        threads += [
            threading.Thread(target=self._revoke, args=(at, key), daemon=True) for at, key in self.orders["revocations"]
        ]
        warm_up = self._warm_up()
        print("started", flush=True)
        cpu_before = cpu_seconds()
        self.start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - self.start
        return {
            "warm_up": warm_up,
            "results": self.results,
            "revocations": sorted(self.revocations, key=lambda r: r[1]),
            "wall_s": wall,
            "cpu_s": cpu_seconds() - cpu_before,
        }


def main() -> int:
    orders = json.loads(sys.stdin.read())
    report = Client(orders).run()
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
