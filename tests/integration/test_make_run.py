"""`make run`'s program: one stdout line with the admin key, a working stack (its development OIDC issuer
trusted for the demo pipeline), and Ctrl-C stops it all."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

from tests.support import env_path, http

BOOTSTRAP = [sys.executable, "-m", "archie_keys", "bootstrap"]


def test_run_prints_one_admin_key_line_serves_the_api_and_stops_on_ctrl_c(tmp_path) -> None:
    state = tmp_path / "local-stack.json"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "archie_local", "run", "--port", "0", "--sample-port", "0", "--oidc-port", "0"),
            *("--state-file", str(state)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the fallback below stops moto's process with it
    )
    lines: queue.Queue[tuple[str, str]] = queue.Queue()

    def pump(stream, name: str) -> None:
        for line in stream:
            lines.put((name, line.rstrip("\n")))

    readers = [
        threading.Thread(target=pump, args=(process.stdout, "out"), daemon=True),
        threading.Thread(target=pump, args=(process.stderr, "err"), daemon=True),
    ]
    for reader in readers:
        reader.start()
    stdout, url, key, issuer, sample = [], None, None, None, None
    try:
        deadline = time.monotonic() + 60
        while key is None or url is None or issuer is None or sample is None:
            assert time.monotonic() < deadline, "the local stack did not come up within 60 s"
            assert process.poll() is None, "the local stack exited early"
            try:
                name, line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if name == "out":
                stdout.append(line)
                key = line.removeprefix("admin key: ")
            elif match := re.search(r"management API \+ dashboard: (http://127\.0\.0\.1:\d+)/", line):
                url = match.group(1)
            elif match := re.search(r"local OIDC issuer: (http://127\.0\.0\.1:\d+) ", line):
                issuer = match.group(1)
            elif match := re.search(r"sample protected API: +(http://127\.0\.0\.1:\d+)/orders", line):
                sample = match.group(1)
        assert re.fullmatch(r"admin key: archie_demo_dev_[A-Za-z0-9]{40}", stdout[0])
        who = http(url, "GET", env_path("demo", "dev", "/whoami"), key)
        assert who.status == 200 and who.body["roles"] == ["admin"]
        # `make bootstrap` against this running stack: the bootstrap command finds it through the state file.
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KEYS_", "AUDIT_", "PEPPER_"))}
        booted = subprocess.run(
            [*BOOTSTRAP, "--project", "acme", "--environment", "qa", "--local", str(state)],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean,
            check=False,
        )
        assert booted.returncode == 0, booted.stderr
        acme = booted.stdout.strip().removeprefix("admin key: ")
        assert http(url, "GET", env_path("acme", "qa", "/whoami"), acme).status == 200
        # The demo pipeline's token (what `make oidc-token` prints) for a 15-minute key that reads orders.
        minted = http(issuer, "POST", "/mint", None, {"sub": "repo:demo/app:ref:refs/heads/main", "aud": "archie-keys"})
        exchanged = http(url, "POST", env_path("demo", "dev", "/keys/exchange"), None, {"token": minted.body["token"]})
        assert exchanged.status == 201 and exchanged.body["record"]["roles"] == ["orders-reader"], exchanged.body
        assert http(sample, "GET", "/orders/42", exchanged.body["key"]).status == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    for reader in readers:
        reader.join(5)
    while not lines.empty():
        name, line = lines.get()
        if name == "out":
            stdout.append(line)
    assert process.returncode == 0
    assert len(stdout) == 1, stdout
    assert not state.exists()  # removed when the stack stops


def test_the_bootstrap_command_gives_a_new_environment_its_first_admin_key(stack) -> None:
    environment = dict(os.environ)
    environment.update(stack.provisioned.environment)
    environment.update(
        {
            "AWS_ENDPOINT_URL": stack.moto_url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "archie_keys", "bootstrap", "--project", "acme", "--environment", "prod"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("admin key: archie_acme_prod_")
    key = lines[0].removeprefix("admin key: ")
    who = http(stack.url(), "GET", env_path("acme", "prod", "/whoami"), key)
    assert who.status == 200 and who.body["roles"] == ["admin"]
    refused = subprocess.run(
        [sys.executable, "-m", "archie_keys", "bootstrap", "--project", "Bad-Name", "--environment", "prod"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )
    assert refused.returncode == 2 and "project" in refused.stderr and refused.stdout == ""
