"""A closed arrival bucket's records, grouped into key blocks as they stream past, in bounded memory.

The compactor reads a bucket's environment blocks in one fixed order (the arrival index's, shard by shard,
each block's records as stored) and hands them here. Records attributed to a key gather per key and window
(a slot); a slot is cut into a chunk when it holds `max_records`, or its JSON would pass `max_bytes`, and the
rest of the bucket's slots when it ends. Every decision depends only on the records seen so far, in that
order, so the same closed bucket always makes the same chunks, whatever the run, however it was
interrupted: the same key blocks (ids, partitions), which their conditional Puts store once.

What is held at once is bounded whatever the bucket's size: at most `max_open_records` in open slots (past
that, the fullest slots are cut early, again by the records seen so far), each chunk's JSON text until it
is written (the writer bounds those), and one decoded environment block. Usage per key and hour and each
key's latest accepted request grow with the number of keys, not of records.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from archie_keys.domain.audit import hour_of
from archie_keys.domain.audit_blocks import (
    BLOCK_MAX_BYTES,
    BLOCK_MAX_RECORDS,
    BLOCK_WINDOW_SECONDS,
    PackedBlock,
    PackedRecord,
    block_id,
    compress,
    window_end,
)
from archie_keys.domain.audit_blocks import records_json as as_json
from archie_keys.domain.clock import from_iso

# Records held in open slots before the fullest are cut early: a few tens of MB of decoded records.
MAX_OPEN_RECORDS = 50_000
WINDOW_CACHE = 1_000

Slot = tuple[str, str, str, float]  # project, environment, key id, window end


def is_refused(record: PackedRecord) -> bool:
    """A request of a key the authorizer refused (the key proven, then revoked, expired, ...) or denied."""
    return bool(record.get("reason")) or int(record["status"]) in (401, 403)


@dataclass
class KeyChunk:
    """One key block to be: its records as JSON text (compressed by the writer, off this thread)."""

    project: str
    environment: str
    key_id: str
    end: float
    ids: list[str]
    text: bytes

    @property
    def count(self) -> int:
        return len(self.ids)

    def packed(self) -> PackedBlock:
        return PackedBlock(block_id(self.ids), self.end, len(self.ids), compress(self.text))


@dataclass
class _Open:
    records: list[PackedRecord] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


@dataclass
class KeyChunker:
    max_records: int = BLOCK_MAX_RECORDS
    max_bytes: int = BLOCK_MAX_BYTES
    max_open_records: int = MAX_OPEN_RECORDS
    records: int = 0
    open_records: int = 0
    peak_open_records: int = 0
    # (project, environment, key id, hour) -> {"allowed": n, "refused": m}: what the bucket adds to usage
    usage: dict[tuple[str, str, str, str], Counter[str]] = field(default_factory=dict)
    # (project, environment, key id) -> the time of its latest accepted request (ISO: sorts as time)
    latest: dict[tuple[str, str, str], str] = field(default_factory=dict)
    _slots: dict[Slot, _Open] = field(default_factory=dict)
    _windows: dict[str, float] = field(default_factory=dict)

    def add(self, project: str, environment: str, records: list[PackedRecord]) -> list[KeyChunk]:
        """One environment block's records, as packed and in their stored order (a key block packs them again
        as they are: domain.audit_blocks.PackedRecord says why not typed); returns the chunks they completed."""
        done: list[KeyChunk] = []
        for record in records:
            key_id = record.pop("key_id", None)
            if not key_id:
                continue  # a request attributed to no key (keyless, or an id only claimed): its environment's
            slot = (project, environment, key_id, self._window_of(record["time"]))
            held = self._slots.get(slot)
            if held is None:
                held = self._slots[slot] = _Open()
            if record["id"] in held.ids:
                continue  # the same request twice in one chunk: stored and counted once (a batch the
                # ingest received twice is stored once already; see the README on redeliveries)
            held.ids.add(record["id"])
            held.records.append(record)
            self.records += 1
            self.open_records += 1
            self.peak_open_records = max(self.peak_open_records, self.open_records)
            if record.get("error") != "ACCESS_DENIED":
                # The access log names a key only when the authorizer accepted (or proved and refused) it;
                # unless the authorizer's Deny answered, the request reached the API: the key is in use,
                # whatever the backend answered.
                place = (project, environment, key_id)
                if record["time"] > self.latest.get(place, ""):
                    self.latest[place] = record["time"]
            if len(held.records) >= self.max_records:
                done += self._cut(slot, final=False)
            if self.open_records > self.max_open_records:
                done += self._relieve()
        return done

    def _window_of(self, moment: str) -> float:
        """The end of the window a record's time falls in; parsed once per minute of times (to_iso's format,
        and windows of whole minutes), at most WINDOW_CACHE minutes remembered."""
        minute = moment[:16]
        end = self._windows.get(minute)
        if end is None:
            end = window_end(from_iso(moment))
            if BLOCK_WINDOW_SECONDS == 60 and len(self._windows) < WINDOW_CACHE:
                self._windows[minute] = end
        return end

    def finish(self) -> list[KeyChunk]:
        """Every slot still open, in slot order: the bucket has ended."""
        done: list[KeyChunk] = []
        for slot in sorted(self._slots):
            done += self._cut(slot, final=True)
        return done

    def _relieve(self) -> list[KeyChunk]:
        """Cut the fullest open slots until half the bound is free (fullest first, then by slot: a choice
        made from the records seen so far alone)."""
        done: list[KeyChunk] = []
        for slot in sorted(self._slots, key=lambda s: (-len(self._slots[s].records), s)):
            if self.open_records <= self.max_open_records // 2:
                break
            done += self._cut(slot, final=True)
        return done

    def _cut(self, slot: Slot, final: bool) -> list[KeyChunk]:
        """Chunks from the front of a slot: `max_records` at most, and no more than fit in `max_bytes` of JSON.
        With final, everything it holds; else only full chunks, the rest stays open."""
        held = self._slots[slot]
        done: list[KeyChunk] = []
        while held.records and (final or len(held.records) >= self.max_records):
            take = held.records[: self.max_records]
            text = as_json(take)
            if len(text) > self.max_bytes:
                take = self._fitting(take)
                text = as_json(take)
            done.append(self._chunk(slot, take, text))
            del held.records[: len(take)]
            self.open_records -= len(take)
            held.ids = {record["id"] for record in held.records}  # what stays open, and no more: bounded
        if not held.records:
            del self._slots[slot]
        return done

    def _fitting(self, records: list[PackedRecord]) -> list[PackedRecord]:
        """The longest front of `records` whose JSON array fits in max_bytes (at least one record: a record's
        client fields are bounded, limits.AUDIT_FIELD_MAX_CHARS, so one always fits)."""
        size = 1  # "["
        for count, record in enumerate(records):
            size += len(as_json([record])) - 1  # the record and a "," or the closing "]"
            if size > self.max_bytes and count:
                return records[:count]
        return records

    def _chunk(self, slot: Slot, records: list[PackedRecord], text: bytes) -> KeyChunk:
        project, environment, key_id, end = slot
        hour = hour_of(end - 1)
        counts = self.usage.setdefault((project, environment, key_id, hour), Counter())
        refused = sum(1 for record in records if is_refused(record))
        counts["refused"] += refused
        counts["allowed"] += len(records) - refused
        return KeyChunk(project, environment, key_id, end, [record["id"] for record in records], text)
