"""`make run`'s terminal: the functions' logs go to the log file; only what needs a person reaches the terminal,
unless VERBOSE=1 asks for all of it."""

from __future__ import annotations

import io
import json
import threading

from archie_local.console import FunctionOutput, export_lines

METRIC = json.dumps({"_aws": {"CloudWatchMetrics": []}, "AuditCompactionBehind": 300})
INFO = json.dumps({"level": "INFO", "message": "audit compacted"})
ERROR = json.dumps({"level": "ERROR", "message": "the ingest failed"})


def written(output: FunctionOutput, *lines: str) -> None:
    for line in lines:
        print(line, file=output)  # as the functions write: the line, then its newline, in two calls
    output.close()


def test_quiet_the_terminal_shows_only_warnings_errors_and_unstructured_lines(tmp_path) -> None:
    terminal, log = io.StringIO(), tmp_path / "stack.log"
    written(FunctionOutput(terminal, log), METRIC, INFO, ERROR, "Traceback (most recent call last):")
    assert terminal.getvalue().splitlines() == [ERROR, "Traceback (most recent call last):"]
    assert log.read_text().splitlines() == [METRIC, INFO, ERROR, "Traceback (most recent call last):"]


def test_verbose_the_terminal_shows_every_line_as_well(tmp_path) -> None:
    terminal, log = io.StringIO(), tmp_path / "stack.log"
    written(FunctionOutput(terminal, log, verbose=True), METRIC, INFO)
    assert terminal.getvalue().splitlines() == [METRIC, INFO] == log.read_text().splitlines()


def test_lines_written_from_many_threads_stay_whole(tmp_path) -> None:
    terminal, log = io.StringIO(), tmp_path / "stack.log"
    output = FunctionOutput(terminal, log, verbose=True)
    threads = [threading.Thread(target=lambda: [print(INFO, file=output) for _ in range(200)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    output.close()
    assert log.read_text().splitlines() == [INFO] * 800


def test_a_last_line_without_its_newline_is_kept_when_the_stack_stops(tmp_path) -> None:
    terminal, log = io.StringIO(), tmp_path / "stack.log"
    output = FunctionOutput(terminal, log)
    output.write(INFO + "\n" + ERROR)
    output.close()
    assert log.read_text().splitlines() == [INFO, ERROR] and terminal.getvalue() == ERROR + "\n"


def test_the_lines_to_paste_are_quoted_for_the_shell() -> None:
    assert export_lines({"API": "http://127.0.0.1:3000/x", "NOTE": "two words"}) == [
        "export API=http://127.0.0.1:3000/x",
        "export NOTE='two words'",
    ]
