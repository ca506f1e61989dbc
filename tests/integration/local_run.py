"""`make run`'s program as a reader starts it, on free ports: its stdout and stderr lines as they come, stopped
with Ctrl-C (SIGINT) as a person stops it, and killed with its process group if that fails."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

STARTUP_SECONDS = 90  # a fresh stack on a busy two-core machine: moto, provisioning, the bootstrap's argon2


class LocalRun:
    """A running `python -m archie_local run`; `stdout` and `stderr` hold the lines read so far."""

    def __init__(self, process: subprocess.Popen[str], log_file: Path) -> None:
        self.process = process
        self.log_file = log_file
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._lines: queue.Queue[tuple[str, str]] = queue.Queue()
        assert process.stdout is not None and process.stderr is not None
        self._readers = [
            threading.Thread(target=self._pump, args=(process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._pump, args=(process.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream: IO[str], into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def admin_key(self) -> str:
        """The key of the one stdout line, once it came (every stderr line before it has been written by then:
        the program flushes stderr before it prints the key)."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self.stdout:
            assert time.monotonic() < deadline, f"the local stack did not come up within {STARTUP_SECONDS} s"
            assert self.process.poll() is None, f"the local stack exited early: {self.stderr[-20:]}"
            time.sleep(0.05)
        key = self.stdout[0]
        assert key.startswith("admin key: "), self.stdout
        # The stderr lines written before the key may still be on their way through the pipe.
        while not any(line.startswith("export KEY=") for line in self.stderr):
            assert time.monotonic() < deadline, f"no export lines on stderr: {self.stderr}"
            time.sleep(0.05)
        return key.removeprefix("admin key: ")

    def export_lines(self) -> list[str]:
        return [line for line in self.stderr if line.startswith("export ")]

    def stop(self) -> int:
        """Ctrl-C, then wait for it to stop everything it started; the process group is killed if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            for reader in self._readers:
                reader.join(5)
        return self.process.returncode


@contextmanager
def local_run(tmp_path: Path, *arguments: str, environment: dict[str, str] | None = None) -> Iterator[LocalRun]:
    """`make run` on free ports, its connection and log files under tmp_path; stopped on the way out."""
    log_file = tmp_path / "local-stack.log"
    command = [sys.executable, "-m", "archie_local", "run", "--port", "0", "--sample-port", "0", "--oidc-port", "0"]
    command += ["--state-file", str(tmp_path / "local-stack.json"), "--log-file", str(log_file), *arguments]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "VERBOSE": "", **(environment or {})},
        start_new_session=True,  # its own process group: stop() can take moto's process down with it
    )
    run = LocalRun(process, log_file)
    try:
        yield run
    finally:
        run.stop()
