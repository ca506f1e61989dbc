"""How hard one change tries to flush a stage before the stage counts as not flushed: the same number of
attempts whether the flush is coordinated across instances (aws.flush_coordination) or not (aws.cache_flush)."""

from __future__ import annotations

from collections.abc import Callable

# Flush attempts per change and stage. Three: API Gateway's control plane throttles in bursts (about 10
# flushes a second per account), and a change that waits longer delays its caller's answer; a stage still
# failing after three is reported (FlushReport.unflushed, the "stages not flushed" alarm), never hidden.
FLUSH_ATTEMPTS = 3
# Without coordination: the pauses after the first and second failed attempts, growing so a throttled
# control plane gets room.
FLUSH_BACKOFF_SECONDS = (0.05, 0.2)


def with_retries(attempt: Callable[[], bool], sleep: Callable[[float], None]) -> bool:
    """Call `attempt` (True: flushed) up to FLUSH_ATTEMPTS times, pausing FLUSH_BACKOFF_SECONDS between."""
    for number in range(FLUSH_ATTEMPTS):
        if attempt():
            return True
        if number < len(FLUSH_BACKOFF_SECONDS):
            sleep(FLUSH_BACKOFF_SECONDS[number])
    return False
