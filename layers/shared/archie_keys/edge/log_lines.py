"""Structured JSON log lines with the standard library alone, for the authorizer.

The authorizer's cold start is measured against a bare `import boto3` (`make bench`): Powertools' Logger
costs about 30 ms to import, more than all of the authorizer's own code. Its log lines need no more than
this: one JSON object per line on stdout (Lambda ships stdout to the function's log group), with the
fields a subscription filter or Logs Insights query selects on (`message`, `request_id`, `key_id`, ...).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

SERVICE = "archie-keys"
# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field of the line.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "level": record.levelname,
            "message": record.getMessage(),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "service": SERVICE,
            "logger": record.name,
        }
        line.update({key: value for key, value in vars(record).items() if key not in _STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


def json_logger(name: str, level: int = logging.INFO) -> logging.Logger:
    """A logger writing JSON lines to stdout and nowhere else (Lambda's own root handler would add a second,
    plain-text copy of each line)."""
    logger = logging.getLogger(name)
    if not any(isinstance(handler.formatter, JsonLines) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonLines())
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger
