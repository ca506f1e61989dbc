"""`python -m archie_tools.load` (`make load`, `make load-smoke`): see archie_tools.load.

stdout carries exactly one JSON line; progress and violations go to stderr. Exit status 0 when every request
got the answer its key's state says and has exactly one audit record, with the status the client got; 1 when
not; 3 when the run passed its hard deadline (everything it started is stopped first)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Any

from archie_tools.load.plan import Settings


def arguments(argv: list[str] | None) -> tuple[Settings, float, bool]:
    parser = argparse.ArgumentParser(prog="python -m archie_tools.load")
    parser.add_argument("--duration", type=float, default=Settings.duration, help="seconds of load")
    parser.add_argument("--rate", type=float, default=Settings.rate, help="target requests per second")
    parser.add_argument("--keys", type=int, default=Settings.keys, help="keys issued before the load")
    parser.add_argument("--seed", type=int, default=Settings.seed, help="the plan's seed: same seed, same plan")
    parser.add_argument("--threads", type=int, default=Settings.threads, help="client threads")
    parser.add_argument("--revoke", type=int, default=0, help="keys revoked mid-run (default: keys/20)")
    parser.add_argument("--forged", type=int, default=0, help="distinct forged keys (default: one per forged request)")
    parser.add_argument("--deadline", type=float, default=0, help="hard bound on the whole run, in seconds")
    parser.add_argument("--handler-logs", action="store_true", help="the handlers' log lines on stderr")
    args = parser.parse_args(argv)
    try:
        settings = Settings(
            duration=args.duration,
            rate=args.rate,
            keys=args.keys,
            seed=args.seed,
            threads=args.threads,
            revoke=args.revoke,
            forged=args.forged,
        )
    except ValueError as error:
        parser.error(str(error))
    # Starting the stack, creating keys (an argon2 hash each), the load, settling the audit: with room to spare.
    return settings, args.deadline or 120 + 3 * settings.duration + 0.5 * settings.keys, args.handler_logs


def main(argv: list[str] | None = None) -> int:
    settings, deadline_s, handler_logs = arguments(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # The handlers log to stdout, as on Lambda (a line or two per audit delivery, one per refusal); stdout here
    # belongs to the one JSON line, and on stderr they would bury the progress: discarded unless asked for.
    out, sys.stdout = sys.stdout, sys.stderr if handler_logs else open(os.devnull, "w")  # noqa: SIM115

    import time

    from archie_local.stack import LocalStack
    from archie_tools.load.runner import DeadlineError, drive, say

    deadline = time.monotonic() + deadline_s
    children: list[subprocess.Popen[Any]] = []
    stack = LocalStack(port=0, sample_port=0)
    done = threading.Event()

    def watchdog() -> None:
        if done.wait(deadline_s + 5):
            return
        say(f"hard deadline of {deadline_s:g}s passed: stopping everything")
        for child in children:
            child.kill()
        stack.stop()
        out.write(json.dumps({"error": f"hard deadline of {deadline_s:g}s passed"}) + "\n")
        out.flush()
        os._exit(3)

    threading.Thread(target=watchdog, daemon=True).start()
    # A TERM stops the run as Ctrl-C does: through the `with`, so moto's process and the client are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with stack:
            result = drive(stack, settings, deadline, children)
    except DeadlineError as error:
        out.write(json.dumps({"error": str(error)}) + "\n")
        return 3
    finally:
        done.set()
    out.write(json.dumps(result) + "\n")
    out.flush()
    failed = (
        result["lost"]
        or result["warm_up_lost"]
        or result["audit_status_mismatch"]
        or any(result["violations"].values())
    )
    say(
        f"{result['requests']} requests at {result['achieved_rps']}/s, p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms; lost {result['lost']}; violations {result['violations']}; "
        f"limited by {result['limited_by']['component']}: {result['limited_by']['why']}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
