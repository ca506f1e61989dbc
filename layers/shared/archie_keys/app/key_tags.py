"""The key tag keys: what makes a key this service issued recognisable without any I/O (domain.keyformat).

They live in their own secret (KeyTagSecret), apart from the pepper, so rotating or retiring the pepper never
touches a tag. The secret holds JSON `{"current": "<name>", "<name>": "<key>", ...}`: new keys are tagged with
the current one, and a key tagged with any listed one is recognised, so a tag key is rotated by adding a new
name and making it current, and retired (after every key it tagged has been rolled) by removing it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from archie_keys.domain.keyformat import TAG_KEY_MAX_BYTES, TAG_KEY_MIN_BYTES

logger = logging.getLogger("archie_keys.key_tags")

# As for the pepper (app.services): a failed re-read keeps the last good tag keys for at most this long.
TAG_KEYS_STALE_MAX_SECONDS = 3600.0
TAG_KEYS_STALE_RETRY_SECONDS = 10.0


@dataclass(frozen=True)
class TagKeys:
    current: bytes
    every: tuple[bytes, ...]


def parse_tag_keys(value: str) -> TagKeys:
    """The secret's JSON as TagKeys; ValueError for anything else (the caller then cannot decide: 503)."""
    document = json.loads(value)
    if not isinstance(document, dict) or not isinstance(document.get("current"), str):
        raise ValueError('the key tag secret is a JSON object naming its "current" key')
    keys = {name: key for name, key in document.items() if name != "current"}
    if not all(
        isinstance(key, str) and TAG_KEY_MIN_BYTES <= len(key.encode("utf-8")) <= TAG_KEY_MAX_BYTES
        for key in keys.values()
    ):
        raise ValueError(f"every tag key is a string of {TAG_KEY_MIN_BYTES} to {TAG_KEY_MAX_BYTES} bytes")
    if document["current"] not in keys:
        raise ValueError('the key tag secret\'s "current" names none of its keys')
    current = keys[document["current"]].encode("utf-8")
    others = tuple(key.encode("utf-8") for name, key in sorted(keys.items()) if name != document["current"])
    return TagKeys(current, (current, *others))


class TagKeyProvider:
    """The tag keys, read once and re-read every `refresh_seconds` (a rotation is picked up without a
    redeploy); between reads answered from memory, since the authorizer asks on every request."""

    def __init__(
        self,
        fetch: Callable[[], str],
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_stale: Callable[[float], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._on_stale = on_stale
        self._lock = threading.Lock()
        self._keys: TagKeys | None = None
        self._fresh_until = 0.0
        self._read_at = 0.0

    def __call__(self) -> TagKeys:
        now = self._clock()
        keys = self._keys
        if keys is not None and now < self._fresh_until:
            return keys
        try:
            keys = parse_tag_keys(self._fetch())
        except Exception:
            if keys is None or now - self._read_at > TAG_KEYS_STALE_MAX_SECONDS:
                raise
            logger.warning("the key tag secret could not be re-read; the last good keys keep serving", exc_info=True)
            if self._on_stale is not None:
                self._on_stale(now - self._read_at)
            with self._lock:
                self._fresh_until = now + TAG_KEYS_STALE_RETRY_SECONDS
            return keys
        with self._lock:
            self._keys, self._read_at, self._fresh_until = keys, now, now + self._refresh_seconds
        return keys
