"""The keys table's replication between the local regions, as DynamoDB global tables do it: asynchronously,
item by item, last writer wins by write time; and each region's stream delivered to its stream consumer
(ReplicationFlushFunction) in batches, as Lambda's event source mapping delivers it.

Each region runs in a process of its own with its own moto server (archie_local.regions), so nothing is shared
but what this copies. One thread polls every region's stream (moto's DynamoDB Streams); a record written by a
person or function in region A is put (or deleted) in every other region B unless B holds a later write of
that item; the record B's stream then shows is recognised as this replicator's own (an echo: never copied
back) and handed to B's consumer with `aws:rep:updateregion: A` in its images. A region's own records reach
its consumer too, naming their own region, so it can tell them apart as it would on AWS.

Faults (the local control plane's fault switch): replication cut (records wait in their queues and are copied
when it is restored, oldest first) and a region down (nothing is read from or written to it meanwhile).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import boto3

logger = logging.getLogger("archie_local.replication")

ORIGIN = "aws:rep:updateregion"
CONSUMER = "ReplicationFlushFunction"
POLL_SECONDS = 0.02


@dataclass
class Region:
    """One region's endpoints, from its process's state file."""

    name: str
    connection: dict[str, str]
    up: bool = True
    dynamodb: Any = None
    streams: Any = None
    lambdas: Any = None
    table: str = ""
    iterator: str | None = None
    echoes: Counter[str] = field(default_factory=Counter)
    last_write: dict[str, float] = field(default_factory=dict)
    consumer_queue: queue.Queue[list[dict[str, Any]]] = field(default_factory=queue.Queue)

    def connect(self) -> None:
        session = boto3.session.Session(region_name=self.name, aws_access_key_id="local", aws_secret_access_key="local")
        endpoint = self.connection["AWS_ENDPOINT_URL"]
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        self.streams = session.client("dynamodbstreams", endpoint_url=endpoint)
        self.lambdas = session.client("lambda", endpoint_url=self.connection["AWS_ENDPOINT_URL_LAMBDA"])
        self.table = self.connection["KEYS_TABLE"]
        arn = self.dynamodb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self.iterator = self.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]


def _item_key(keys: dict[str, Any]) -> str:
    return json.dumps(keys, sort_keys=True)


def _fingerprint(record: dict[str, Any]) -> str:
    data = record["dynamodb"]
    return json.dumps([record["eventName"] == "REMOVE", data["Keys"], data.get("NewImage")], sort_keys=True)


def _at(record: dict[str, Any]) -> float:
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    return created.timestamp() if hasattr(created, "timestamp") else float(created or time.time())


def _stamped(record: dict[str, Any], origin: str) -> dict[str, Any]:
    """The record as the consumer's event source mapping delivers it, its images naming the origin region."""
    data = dict(record["dynamodb"])
    for image in ("NewImage", "OldImage"):
        if image in data:
            data[image] = {**data[image], ORIGIN: {"S": origin}}
    data.pop("ApproximateCreationDateTime", None)
    data["ApproximateCreationDateTime"] = _at(record)
    return {**{k: v for k, v in record.items() if k != "dynamodb"}, "eventSource": "aws:dynamodb", "dynamodb": data}


class Replicator:
    def __init__(self, regions: list[Region]) -> None:
        self.regions = {region.name: region for region in regions}
        self.replicating = True
        self.pending: dict[tuple[str, str], deque[dict[str, Any]]] = {
            (a, b): deque() for a in self.regions for b in self.regions if a != b
        }
        self.lags_ms: deque[float] = deque(maxlen=1000)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        # (target region, fingerprint of a replica write made there) -> the region the change came from
        self._origins: dict[tuple[str, str], str] = {}

    def start(self) -> Replicator:
        for region in self.regions.values():
            region.connect()
        self._threads.append(threading.Thread(target=self._run, name="replicator", daemon=True))
        for region in self.regions.values():
            self._threads.append(
                threading.Thread(target=self._consume, args=(region,), name=f"consumer-{region.name}", daemon=True)
            )
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for region in self.regions.values():
            region.consumer_queue.put([])
        for thread in self._threads:
            thread.join(timeout=10)

    def status(self) -> dict[str, Any]:
        with self._lock:
            lags = sorted(self.lags_ms)
        return {
            "replication": self.replicating,
            "down": sorted(name for name, region in self.regions.items() if not region.up),
            "pending": sum(len(q) for q in self.pending.values()),
            "replication_lag_p50_ms": lags[len(lags) // 2] if lags else None,
            "replicated": len(lags),
        }

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.step()
            except Exception:
                logger.warning("replication step failed", exc_info=True)
                busy = False
            if not busy:
                self._stop.wait(POLL_SECONDS)

    def step(self) -> bool:
        """Read every region's new stream records, then copy what is due; whether anything happened."""
        busy = False
        for region in self.regions.values():
            if region.up:
                busy |= self._read(region)
        if self.replicating:
            for (source, target), waiting in self.pending.items():
                while waiting and self.regions[target].up:
                    self._apply(source, self.regions[target], waiting.popleft())
                    busy = True
        return busy

    def _read(self, region: Region) -> bool:
        answer = region.streams.get_records(ShardIterator=region.iterator, Limit=1000)
        region.iterator = answer.get("NextShardIterator") or region.iterator
        records = answer.get("Records", [])
        delivered: list[dict[str, Any]] = []
        for record in records:
            fingerprint = _fingerprint(record)
            if region.echoes[fingerprint] > 0:
                # The replica write this replicator made: its origin is where the change was made.
                region.echoes[fingerprint] -= 1
                origin = self._origins.pop((region.name, fingerprint), region.name)
                delivered.append(_stamped(record, origin))
                continue
            key = _item_key(record["dynamodb"]["Keys"])
            at = _at(record)
            region.last_write[key] = max(region.last_write.get(key, 0.0), at)
            delivered.append(_stamped(record, region.name))
            for target in self.regions:
                if target != region.name:
                    self.pending[(region.name, target)].append(record)
        if delivered:
            region.consumer_queue.put(delivered)
        return bool(records)

    def _apply(self, source: str, target: Region, record: dict[str, Any]) -> None:
        """Last writer wins: the record is applied unless the target holds a later write of the item."""
        key = _item_key(record["dynamodb"]["Keys"])
        at = _at(record)
        if target.last_write.get(key, 0.0) > at:
            return
        fingerprint = _fingerprint(record)
        target.echoes[fingerprint] += 1
        self._origins[(target.name, fingerprint)] = source
        if record["eventName"] == "REMOVE":
            target.dynamodb.delete_item(TableName=target.table, Key=record["dynamodb"]["Keys"])
        else:
            target.dynamodb.put_item(TableName=target.table, Item=record["dynamodb"]["NewImage"])
        target.last_write[key] = at
        with self._lock:
            self.lags_ms.append((time.time() - at) * 1000)

    def _consume(self, region: Region) -> None:
        """The region's event source mapping: its stream's records, batch by batch, to its consumer function."""
        while not self._stop.is_set():
            batch = region.consumer_queue.get()
            while not region.consumer_queue.empty() and len(batch) < 100:
                batch.extend(region.consumer_queue.get_nowait())
            if not batch or not region.up:
                continue
            try:
                region.lambdas.invoke(FunctionName=CONSUMER, Payload=json.dumps({"Records": batch}).encode())
            except Exception:
                logger.warning("the replication flush of %s failed", region.name, exc_info=True)
