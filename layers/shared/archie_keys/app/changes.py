"""All-or-nothing changes: side effects that can fail happen before the commit and are undone when the commit
does not happen; those after it are idempotent and retried, and never fail the committed change.

    with Change() as change:
        services.schedules.put(...)
        change.undo_with(lambda: services.schedules.delete(...))
        services.transactions.commit([...])      # the change happens here, or not at all
    after_commit(lambda: services.secrets.promote(prepared), "promote the delivered secret")
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType

from archie_keys.domain.errors import ArchieError, ConditionFailed

logger = logging.getLogger("archie_keys.changes")

AFTER_COMMIT_ATTEMPTS = 3
AFTER_COMMIT_BACKOFF_SECONDS = (0.05, 0.2)


class Change:
    """Collects undo actions for side effects made before a commit; runs them (newest first) when the block
    raises. An undo that fails is logged: the one failure that stopped the change is the one reported."""

    def __init__(self) -> None:
        self._undo: list[tuple[Callable[[], None], str]] = []

    def undo_with(self, undo: Callable[[], None], what: str = "") -> None:
        self._undo.append((undo, what))

    def __enter__(self) -> Change:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if error is None:
            return
        for undo, what in reversed(self._undo):
            try:
                undo()
            except Exception:
                logger.exception("undoing a side effect of a failed change failed: %s", what)


def after_commit(action: Callable[[], None], what: str, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Run an idempotent follow-up of a committed change, retried; returns whether it succeeded. A client
    error (ArchieError) or a refused condition is not retried."""
    for attempt in range(AFTER_COMMIT_ATTEMPTS):
        try:
            action()
            return True
        except (ArchieError, ConditionFailed):
            logger.exception("a follow-up of a committed change was refused: %s", what)
            return False
        except Exception:  # noqa: BLE001 - any failure of a follow-up is retried, then reported, never raised
            logger.warning("a follow-up of a committed change failed (attempt %d): %s", attempt + 1, what)
            if attempt < len(AFTER_COMMIT_BACKOFF_SECONDS):
                sleep(AFTER_COMMIT_BACKOFF_SECONDS[attempt])
    logger.error("a follow-up of a committed change did not complete: %s", what)
    return False
