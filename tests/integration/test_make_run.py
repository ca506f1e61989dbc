"""`make run`'s program: one stdout line with the admin key, lines to paste, a working stack (its development
OIDC issuer trusted for the demo pipeline) that is quiet while idle, and Ctrl-C stops it all."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from tests.integration.local_run import local_run
from tests.support import env_path, http

BOOTSTRAP = [sys.executable, "-m", "archie_keys", "bootstrap"]


def test_run_prints_one_admin_key_line_serves_the_api_and_stops_on_ctrl_c(tmp_path) -> None:
    state = tmp_path / "local-stack.json"
    with local_run(tmp_path) as run:
        key = run.admin_key()
        url = _address(run.stderr, r"management API \+ dashboard: (http://127\.0\.0\.1:\d+)/")
        issuer = _address(run.stderr, r"local OIDC issuer: (http://127\.0\.0\.1:\d+) ")
        sample = _address(run.stderr, r"sample protected API: +(http://127\.0\.0\.1:\d+)/orders")
        assert re.fullmatch(r"admin key: archie_demo_dev_[A-Za-z0-9]{40}", run.stdout[0])
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
        assert run.stop() == 0
    assert len(run.stdout) == 1, run.stdout
    assert not state.exists()  # removed when the stack stops


def _address(lines: list[str], pattern: str) -> str:
    return next(match.group(1) for line in lines if (match := re.search(pattern, line)))


def test_run_prints_lines_to_paste_then_stays_quiet_while_its_functions_log(tmp_path) -> None:
    with local_run(tmp_path) as run:
        key = run.admin_key()
        started = len(run.stderr)
        # The lines to paste, pasted into a shell, name this stack and its admin key.
        pasted = subprocess.run(
            ["bash", "-c", "\n".join([*run.export_lines(), 'printf "%s\\n" "$API" "$SAMPLE" "$KEY"'])],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        api, sample, pasted_key = pasted.stdout.splitlines()
        assert pasted_key == key
        assert http(api, "GET", "/whoami", key).body["roles"] == ["admin"]
        assert http(sample, "GET", "/orders/42", key).status == 200  # the sample API, through the authorizer
        # While it idles, the audit compactor runs several times a second and its functions log each run: all
        # of it goes to the log file, none of it to the terminal. Bounded: the compactor's metric shows up in
        # the log file within seconds of the start, or the test fails.
        deadline = time.monotonic() + 60
        while run.log_file.read_text().count("AuditCompactionBehind") < 20:
            assert time.monotonic() < deadline, "the functions wrote no compactor metrics to the log file"
            time.sleep(0.2)
        assert run.stop() == 0
    assert run.stderr[started:] == ["stopped"]
    assert "AuditCompactionBehind" in run.log_file.read_text()


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
