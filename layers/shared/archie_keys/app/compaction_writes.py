"""Writing a bucket's key blocks side by side, each DynamoDB partition within its budget, in bounded memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from archie_keys.app.compaction_chunks import KeyChunk

# DynamoDB takes at most 1,000 write units a second on one partition. A key's blocks are spread over
# AUDIT_SHARDS partition keys (BLK#<p>#<e>#<key id>#<shard>, the shard a hash of the block's id), and the
# compactor gives each partition key this many a second, keeping the rest for DynamoDB's own retries and for
# the items that share its partition. A full key block (500 records of ~52 bytes once compressed, `make
# cost`) is ~26 units, so one key's blocks go out at up to 4 x 800 / 26 = ~120 blocks a second: ~60,000
# requests a second of one key, six times the 10,000 a hot key was asked to sustain. Its usage is no limit:
# one update per key, hour and bucket (app.compaction), whatever the key's rate.
PARTITION_WRITE_UNITS_PER_SECOND = 800.0


class PartitionPacer:
    """Spaces the writes to each partition key so that it takes at most `units_per_second` write units a
    second: a write waits (on its own thread) until its partition's previous writes have had their time."""

    def __init__(
        self,
        units_per_second: float = PARTITION_WRITE_UNITS_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.units_per_second = units_per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._free_at: dict[str, float] = {}

    def __call__(self, partition: str, units: int) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._free_at.get(partition, now))
            self._free_at[partition] = start + units / self.units_per_second
        if start > now:
            self._sleep(start - now)


class BlockWrites:
    """Key blocks written on a thread pool as they are cut, at most `max_in_flight` submitted and not yet
    written: past that, submit() waits for one to finish, so the reader never runs ahead of the writes by
    more than that many blocks. A write that fails stops the bucket: the next submit, or drain(), raises it."""

    def __init__(self, pool: ThreadPoolExecutor, store: Callable[[KeyChunk], bool], max_in_flight: int) -> None:
        self._pool = pool
        self._store = store
        self._room = threading.BoundedSemaphore(max_in_flight)
        self._lock = threading.Lock()
        self._pending: set[Future[bool]] = set()
        self._failure: BaseException | None = None
        self.stored = 0
        self.in_flight_records = 0

    def submit(self, chunk: KeyChunk) -> None:
        self._raise_failure()
        self._room.acquire()
        with self._lock:
            self.in_flight_records += chunk.count
        try:
            future = self._pool.submit(self._write, chunk)
        except BaseException:
            self._done(chunk)
            raise
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def drain(self) -> int:
        """Wait for every write submitted; the number of blocks stored (those already stored not counted)."""
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                break
            for future in pending:
                future.exception()  # waits; the failure itself is kept by _write
        self._raise_failure()
        return self.stored

    def _write(self, chunk: KeyChunk) -> bool:
        try:
            stored = self._store(chunk)
        except BaseException as error:
            with self._lock:
                self._failure = self._failure or error
            raise
        finally:
            self._done(chunk)
        with self._lock:
            self.stored += stored
        return stored

    def _done(self, chunk: KeyChunk) -> None:
        with self._lock:
            self.in_flight_records -= chunk.count
        self._room.release()

    def _forget(self, future: Future[bool]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _raise_failure(self) -> None:
        with self._lock:
            failure = self._failure
        if failure is not None:
            raise failure
