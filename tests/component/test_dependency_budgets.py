"""A failing dependency costs a bounded time and never a wrong answer: the authorizer's AWS clients give up
within about two seconds, and a pepper that cannot be re-read keeps the last good one serving, for a while."""

from __future__ import annotations

from typing import Any

import pytest

from archie_keys.app.services import PEPPER_STALE_MAX_SECONDS, HasherProvider
from archie_keys.aws.clients import PROFILES, client_config
from archie_keys.domain.hashing import Argon2Parameters
from archie_keys.edge.composition import get_services
from archie_keys.edge.settings import ConfigurationError, load_settings
from archie_local.template import load_template

FAST_ARGON2 = Argon2Parameters(memory_kib=8, time_cost=1)


def test_every_client_on_the_authorizers_path_gives_up_within_seconds_not_minutes(aws: Any) -> None:
    services = get_services()
    for client in (services.verifier.store.client, services.decision_clients[1]):
        config = client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (1.0, 1.0)
        assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    # Whatever the worst case (every attempt timing out), it ends well inside the authorizer's 10 s timeout,
    # so API Gateway gets the authorizer's failure (503) instead of a timeout (500).
    timeout = int(load_template()["Globals"]["Function"]["Timeout"])
    for name, (connect, read, attempts) in PROFILES.items():
        assert attempts * (connect + read) < timeout or name == "background", name


def test_background_functions_get_the_background_profile_and_no_function_an_unknown_one() -> None:
    resources = load_template()["Resources"]
    profiles = {
        name: ((spec["Properties"].get("Environment") or {}).get("Variables") or {}).get("AWS_CLIENT_PROFILE")
        for name, spec in resources.items()
        if spec["Type"] == "AWS::Serverless::Function"
    }
    assert {name for name, profile in profiles.items() if profile == "background"} >= {
        "AuditIngestFunction",
        "AuditCompactFunction",
    }
    for name, profile in profiles.items():
        if profile is not None:
            client_config(profile)  # raises for a profile that does not exist
            timeout = int(resources[name]["Properties"].get("Timeout", 10))
            connect, read, attempts = PROFILES[profile]
            assert attempts * (connect + read) < timeout, name
    with pytest.raises(ConfigurationError):
        load_settings(
            {"KEYS_TABLE": "k" * 3, "IDEMPOTENCY_TABLE": "i" * 3, "PEPPER_SECRET_ID": "p", "AWS_CLIENT_PROFILE": "x"}
        )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_pepper_that_cannot_be_re_read_keeps_the_last_good_one_serving_for_a_bounded_time() -> None:
    clock, stale_reports, reads = Clock(), [], []
    outage = {"on": False}

    def fetch(version: str | None) -> tuple[bytes, str]:
        reads.append(clock.now)
        if outage["on"]:
            raise ConnectionError("Secrets Manager is unreachable")
        return b"p" * 32, "v1"

    provider = HasherProvider(fetch, FAST_ARGON2, refresh_seconds=300, clock=clock, on_stale=stale_reports.append)
    first = provider()
    outage["on"] = True
    clock.now += 301  # due for a re-read, which fails: the last good pepper serves, and the alarm is told
    assert provider() is first and stale_reports == [301]
    # Retried after a short pause, not on every request (an outage is no reason to hammer it)
    clock.now += 1
    assert provider() is first and len(reads) == 2
    clock.now += 10
    assert provider() is first and len(reads) == 3
    # Past the bound, the instance no longer trusts it: it cannot decide (the authorizer's 503)
    clock.now = 1000 + PEPPER_STALE_MAX_SECONDS + 1
    with pytest.raises(ConnectionError):
        provider()
    # A first read that fails has nothing to fall back on
    cold = HasherProvider(fetch, FAST_ARGON2, refresh_seconds=300, clock=clock)
    with pytest.raises(ConnectionError):
        cold()
