"""`make secret NAME=...` shows what a consumer of a delivered secret reads now, from the running local stack,
and nothing that is not a delivered secret (the stack's moto also holds the pepper)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support import env_path, http, put_orders_reader

KEYS = env_path("demo", "dev", "/keys")
SECRET = "archie/keys/demo/dev/make-secret"


def make_secret(state: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archie_local", "secret", name, "--state-file", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_make_secret_prints_the_value_a_consumer_reads_and_follows_a_roll(stack: Any, admin: str, tmp_path) -> None:
    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps(stack.connection()))  # as `make run` writes it
    base = stack.url()
    put_orders_reader(base, admin)
    created = http(base, "POST", KEYS, admin, {"name": "ms", "roles": ["orders-reader"], "secret_name": SECRET}).body
    shown = make_secret(state, SECRET)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == created["key"] + "\n" and created["key_id"] in shown.stderr
    rolled = http(base, "POST", f"{KEYS}/{created['key_id']}/roll", admin, {"grace_seconds": 0, "secret_name": SECRET})
    assert make_secret(state, SECRET).stdout == rolled.body["key"] + "\n"

    pepper = stack.connection()["PEPPER_SECRET_ID"]
    for name in (pepper, "archie/keys/demo/dev/never-delivered"):
        refused = make_secret(state, name)
        assert refused.returncode == 1 and refused.stdout == "", (name, refused.stderr)
    missing = make_secret(tmp_path / "nothing.json", SECRET)
    assert missing.returncode == 2 and "make run" in missing.stderr
