"""A delivered secret whose new value never became AWSCURRENT is one metric line naming the secret, which
SecretsNeverPromotedAlarm reads: its consumers still read the previous key, so a person must know."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archie_keys.aws import metrics
from archie_keys.aws.secrets import SecretDelivery
from archie_local.template import STACK_NAME, load_template
from tests.component.test_metrics import emf_lines
from tests.support import env_path

KEYS = env_path("demo", "dev", "/keys")
SECRET = "archie/keys/demo/dev/billing"


def unpromoted(out: str) -> list[dict[str, Any]]:
    return [line for line in emf_lines(out) if metrics.SECRETS_UNPROMOTED in line]


def test_a_promotion_that_fails_for_good_writes_one_line_naming_the_secret(
    api, admin_key, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unavailable(self: SecretDelivery, prepared: Any) -> None:
        raise ConnectionError("Secrets Manager unreachable")

    monkeypatch.setattr(SecretDelivery, "promote", unavailable)
    capsys.readouterr()
    body = {"name": "billing", "roles": ["admin"], "secret_name": SECRET}
    created = api("POST", KEYS, admin_key, body)
    assert created.status == 201 and created.body["secret_stage"] == "ARCHIE_PENDING"  # the key exists all the same
    (line,) = unpromoted(capsys.readouterr().out)
    assert line[metrics.SECRETS_UNPROMOTED] == 1 and line["secret_name"] == SECRET and line["Stack"] == STACK_NAME
    assert created.body["key"] not in json.dumps(line)


def test_a_promoted_secret_writes_no_such_line(api, admin_key, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    body = {"name": "billing", "roles": ["admin"], "secret_name": SECRET}
    assert api("POST", KEYS, admin_key, body).body["secret_stage"] == "AWSCURRENT"
    assert unpromoted(capsys.readouterr().out) == []


def test_the_alarm_reads_the_metric_the_code_writes() -> None:
    alarm = load_template()["Resources"]["SecretsNeverPromotedAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("ArchieKeys", metrics.SECRETS_UNPROMOTED)
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (1, 1)  # one is enough: consumers read a stale key
