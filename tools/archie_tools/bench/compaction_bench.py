"""`make bench`, the compactor's part: one key's 600,000 requests in one arrival bucket (10,000 a second for a
minute), compacted against the local moto server (its own process, as the authorizer bench uses it).

The bucket is written as the ingest writes it, through AuditWriter and not HTTP: 10 access-log streams, a
delivery a second from each (1,000 requests), each delivery's records as environment blocks of at most 500,
all listed under one arrival bucket. Then the compactor runs once over that bucket, in a child process of
its own, so what is measured is the compactor alone and not the 600,000 records this process generated:

- compaction_records_per_s: records / the wall time of AuditCompactor.run, end to end (moto included)
- compaction_cpu_records_per_s: records / the child's CPU time (user + system, all its threads): what the
  compactor's own work allows, whatever moto takes
- compaction_peak_rss_mb: the child's peak resident set, the whole process (the interpreter, boto3 and
  botocore included, ~60 MB of it before the first record): VmHWM of /proc/self/status, the high-water mark
  of the child's own memory since its exec. Not getrusage's ru_maxrss, which Linux carries across execve:
  a child forked from this process (which has run the authorizer bench) would report this one's size.
- compaction_moto_busy: moto's CPU seconds / the run's wall seconds (1.0: moto, which handles one request
  at a time, is what limits the rate)
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

RECORDS = 600_000
STREAMS = 10
SECONDS = 60
KEY_ID = "HotkHotkHotk"
BUCKET_SECONDS = 60.0


def delivery(stream: int, second: int, start: float, chooser: random.Random) -> list[dict[str, Any]]:
    """One stream's second of requests of the hot key, as the ingest records them."""
    per = RECORDS // (STREAMS * SECONDS)
    return [
        {
            "id": f"{chooser.getrandbits(96):024x}",
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + second)) + f".{(i * 1000) // per:03d}Z",
            "request_id": f"{chooser.getrandbits(128):032x}",
            "method": "GET",
            "path": f"/orders/{chooser.randrange(100_000)}",
            "resource": "/orders/{id}",
            "status": 200 if i % 50 else 404,
            "source_ip": f"203.0.113.{stream}",
            "user_agent": "orders-client/2.3 (python-requests/2.32)",
            "api": "a1b2c3d4e5/v1",
            "key_id": KEY_ID,
        }
        for i in range(per)
    ]


def write_bucket(table: str, bucket: float) -> int:
    """The bucket's environment blocks, as the ingest would write them (8 threads); the blocks written."""
    from archie_keys.aws.audit_blocks import chunked, window_end
    from archie_keys.aws.audit_writer import AuditWriter
    from archie_keys.aws.clients import new_client
    from archie_keys.domain.audit_records import RequestRecord, request_record
    from archie_keys.domain.clock import from_iso

    writer = AuditWriter(table, new_client("dynamodb", "background"), 90)
    writer.begin_compaction(bucket - BUCKET_SECONDS)
    chooser = random.Random(18)
    start = bucket - SECONDS  # requests of the minute before, arriving in this bucket

    def write(records: list[RequestRecord]) -> bool:
        return writer.put_environment_block("demo", "prod", records, bucket)

    written = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        for second in range(SECONDS):
            blocks = []
            for stream in range(STREAMS):
                windows: dict[float, list[RequestRecord]] = {}
                for stored in delivery(stream, second, start, chooser):
                    record = request_record({"project": "demo", "environment": "prod", **stored})
                    windows.setdefault(window_end(from_iso(record.time)), []).append(record)
                blocks += [block for records in windows.values() for block in chunked(records)]
            written += sum(pool.map(write, blocks))
    return written


def child(bucket: float) -> None:
    """The compactor over one bucket; prints its figures as one JSON line."""
    from archie_keys.app.compaction import AuditCompactor
    from archie_keys.aws.audit_reader import AuditReader
    from archie_keys.aws.audit_writer import AuditWriter
    from archie_keys.aws.clients import new_client
    from archie_keys.aws.compaction_ledger import CompactionLedger
    from archie_keys.aws.key_store import KeyStore

    table, client = os.environ["AUDIT_TABLE"], new_client("dynamodb", "background")
    compactor = AuditCompactor(
        AuditWriter(table, client, 90),
        AuditReader(table, client),
        KeyStore(os.environ["KEYS_TABLE"], client),
        CompactionLedger(table, client),
        BUCKET_SECONDS,
        0.0,
        clock=lambda: bucket + BUCKET_SECONDS + 1,  # the bucket has just closed
    )
    before = os.times()
    started = time.perf_counter()
    report = compactor.run()
    wall = time.perf_counter() - started
    after = os.times()
    hours = AuditReader(table, client).usage("demo", "prod", KEY_ID, bucket - 7200)
    counted = sum(hour.requests for hour in hours)
    peak_kb = peak_rss_kb()
    figures = {
        "records": report.records,
        "key_blocks": report.key_blocks,
        "counted": counted,
        "wall_s": wall,
        "cpu_s": (after.user - before.user) + (after.system - before.system),
        "peak_rss_mb": peak_kb / 1024,
        "peak_held_records": report.peak_held_records,
    }
    print(json.dumps(figures))


def peak_rss_kb() -> float:
    """This process's peak resident set since its exec, in kilobytes (Linux's VmHWM)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status: the compaction bench needs Linux")


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure() -> dict[str, Any]:
    """Write the bucket into a fresh moto server, compact it in a child process; the bench's fields."""
    from archie_local.moto_server import MotoServer, free_port
    from archie_local.provision import provision
    from archie_local.template import REGION, load_template

    saved = dict(os.environ)
    moto = MotoServer(free_port()).start()
    try:
        connection = {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_ENDPOINT_URL": moto.url,
        }
        os.environ.update(connection)
        environment = provision(load_template(), moto.url, {"Tracing": "Disabled"}).environment
        bucket = (time.time() // BUCKET_SECONDS - 5) * BUCKET_SECONDS
        started = time.perf_counter()
        blocks = write_bucket(environment["AUDIT_TABLE"], bucket)
        print(
            f"compaction bench: {blocks} environment blocks written in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        assert moto._process is not None
        moto_before = cpu_seconds(moto._process.pid)
        result = subprocess.run(  # noqa: S603 - this module, in a child interpreter
            [sys.executable, "-m", "archie_tools.bench.compaction_bench", "--child", repr(bucket)],
            env={**os.environ, **environment, **connection, "AWS_CLIENT_PROFILE": "background"},
            capture_output=True,
            text=True,
            check=True,
        )
        moto_cpu = cpu_seconds(moto._process.pid) - moto_before
    finally:
        moto.stop()
        os.environ.clear()
        os.environ.update(saved)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    if figures["records"] != RECORDS or figures["counted"] != RECORDS:
        raise AssertionError(f"the compactor did not compact the bucket whole: {figures}")
    return {
        "compaction_records": figures["records"],
        "compaction_key_blocks": figures["key_blocks"],
        "compaction_seconds": round(figures["wall_s"], 2),
        "compaction_records_per_s": round(figures["records"] / figures["wall_s"]),
        "compaction_cpu_records_per_s": round(figures["records"] / figures["cpu_s"]),
        "compaction_peak_rss_mb": round(figures["peak_rss_mb"], 1),
        "compaction_peak_held_records": figures["peak_held_records"],
        "compaction_moto_busy": round(moto_cpu / figures["wall_s"], 2),
    }


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        child(float(sys.argv[2]))
        return 0
    print(json.dumps(measure()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
