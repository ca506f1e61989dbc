"""A logging handler that keeps what a logger wrote, for tests that assert on the authorizer's log lines."""

from __future__ import annotations

import logging
from typing import Any


class LogLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def fields(self, *names: str, message: str | None = None) -> list[dict[str, Any]]:
        """Each line's message and the named extra fields (None when absent); only lines with `message` if given."""
        return [
            {"message": r.getMessage(), **{n: getattr(r, n, None) for n in names}}
            for r in self.records
            if message is None or r.getMessage() == message
        ]
