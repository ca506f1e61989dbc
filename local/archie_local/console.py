"""What `make run` shows in its terminal: its addresses and the lines to paste, then nothing while idle.

The functions write their logs and metrics to stdout, as on Lambda, where CloudWatch keeps them. Here they
would scroll `make run`'s addresses away: the audit compactor alone writes four or five lines a second while
nothing happens. So `FunctionOutput` takes the functions' stdout: every line goes to a log file, and only a
line that needs a person reaches the terminal (a warning or an error, or anything that is not a structured
log line, such as a stray print). With `verbose` (`make run VERBOSE=1`) every line also goes to the terminal,
as a tail of the functions' log groups would."""

from __future__ import annotations

import io
import json
import shlex
import threading
from pathlib import Path
from typing import TextIO

# Levels of the functions' structured (Powertools) log lines that are shown even when quiet.
ATTENTION_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})
# The log file is kept to about this size: a stack left running for days does not fill the disk (the
# compactor's lines alone are about 100 MB a day); the previous part is kept beside it as `<name>.1`.
LOG_FILE_MAX_BYTES = 20 * 1024 * 1024


def needs_attention(line: str) -> bool:
    """A line the terminal shows even when quiet: a warning or worse, or not a structured log line at all."""
    try:
        record = json.loads(line)
    except ValueError:
        return bool(line.strip())
    if not isinstance(record, dict):
        return True
    return str(record.get("level", "")).upper() in ATTENTION_LEVELS


class FunctionOutput(io.TextIOBase):
    """A text stream for the functions' stdout: whole lines to `log_path` (rotated at LOG_FILE_MAX_BYTES),
    and to `terminal` those that need attention, or all of them when `verbose`."""

    def __init__(self, terminal: TextIO, log_path: Path, *, verbose: bool = False) -> None:
        super().__init__()
        self.terminal = terminal
        self.log_path = log_path
        self.verbose = verbose
        self._lock = threading.Lock()
        self._pending: dict[int, str] = {}  # each thread's line so far
        self._log = log_path.open("w", encoding="utf-8")
        self._log_bytes = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        # print() writes a line and its newline in two calls, and the functions write from several threads:
        # each thread's line is assembled apart, and passed on whole.
        thread = threading.get_ident()
        with self._lock:
            *lines, rest = (self._pending.pop(thread, "") + text).split("\n")
            if rest:
                self._pending[thread] = rest
            for line in lines:
                self._line(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if not self._log.closed:
                self._log.flush()
        self.terminal.flush()

    def close(self) -> None:
        with self._lock:
            for rest in self._pending.values():
                self._line(rest)
            self._pending.clear()
            self._log.close()
        super().close()

    def _line(self, line: str) -> None:
        if self._log.closed:
            return
        if self._log_bytes > LOG_FILE_MAX_BYTES:
            self._log.close()
            self.log_path.replace(self.log_path.with_name(self.log_path.name + ".1"))
            self._log = self.log_path.open("w", encoding="utf-8")
            self._log_bytes = 0
        self._log.write(line + "\n")
        self._log_bytes += len(line) + 1
        if self.verbose or needs_attention(line):
            self.terminal.write(line + "\n")
            self.terminal.flush()


def export_lines(variables: dict[str, str]) -> list[str]:
    """`export NAME=value` lines a person pastes into another shell (values quoted for the shell)."""
    return [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]
