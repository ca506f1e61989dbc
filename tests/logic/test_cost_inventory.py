"""`make cost` prices what the template creates, never a count written down beside it: an alarm added is an
alarm priced (per metric it reads), a switched-off canary costs nothing, and every custom metric the code
publishes is counted, once per dimension set."""

from __future__ import annotations

import copy
from typing import Any

from archie_keys.aws.metrics import METRIC_NAMES, REFUSAL_REASONS
from archie_local.template import load_template
from archie_tools.bench.cost_fixed import monthly_fixed
from archie_tools.bench.cost_model import CLOUDWATCH_ALARM_METRIC_MONTH, Measured
from archie_tools.bench.cost_template import inventory, template_facts


def quiet_measurements() -> Measured:
    zero: dict[str, Any] = dict.fromkeys(Measured.__dataclass_fields__, 0.0)
    zero.update(refused_access_log_line_bytes={}, refusal_metric_line_bytes={}, canary_calls={}, key_item_bytes=500.0)
    return Measured(**zero)


def fixed(template: dict[str, Any]) -> dict[str, float]:
    return {
        line.name: line.usd
        for line in monthly_fixed(template_facts(template), inventory(template), quiet_measurements())
    }


def test_an_alarm_on_metric_math_is_priced_per_metric_it_reads() -> None:
    template = load_template()
    before = fixed(template)["alarms"]
    changed = copy.deepcopy(template)
    changed["Resources"]["ExtraAlarm"] = copy.deepcopy(template["Resources"]["KeysTableThrottlesAlarm"])
    reads = sum(1 for m in changed["Resources"]["ExtraAlarm"]["Properties"]["Metrics"] if "MetricStat" in m)
    assert reads == 2
    assert round(fixed(changed)["alarms"] - before, 6) == reads * CLOUDWATCH_ALARM_METRIC_MONTH


def test_a_stack_without_the_canary_pays_nothing_for_it() -> None:
    template = load_template()
    assert "synthetic canary" in fixed(template)
    off = copy.deepcopy(template)
    off["Parameters"]["DeployCanary"]["Default"] = "false"
    assert "synthetic canary" not in fixed(off)
    assert not any(alarm.name == "CanaryAlarm" for alarm in inventory(off).alarms)


def test_every_metric_the_code_publishes_is_counted_once_per_dimension_set() -> None:
    published = inventory().custom_metrics
    refused = [m for m in published if m.startswith("ArchieKeys/Refused{")]
    assert len(refused) == 1 + len(REFUSAL_REASONS)  # by Stack, and by Stack and Reason
    assert {m.split("/")[1].split("{")[0] for m in published if m.startswith("ArchieKeys/")} >= set(METRIC_NAMES)


def test_webhook_deliveries_are_priced_from_the_delivery_function_in_the_template() -> None:
    from archie_tools.bench.cost_webhooks import DELIVERY_FUNCTION, delivery_costs

    template = load_template()
    before = {line.name: line.usd for line in delivery_costs(template)}
    bigger = copy.deepcopy(template)
    bigger["Resources"][DELIVERY_FUNCTION]["Properties"]["MemorySize"] *= 2
    after = {line.name: line.usd for line in delivery_costs(bigger)}
    assert after["delivery function"] > before["delivery function"]
    assert after["SQS"] == before["SQS"]
    assert "webhook queue pollers" in fixed(template)


def test_a_second_region_is_priced_from_the_template_as_each_region_deploys_it() -> None:
    from archie_tools.bench.cost_model import DYNAMODB_PER_REPLICATED_WRITE_UNIT, SECRETS_MANAGER_PER_SECRET_MONTH
    from archie_tools.bench.cost_regions import CONSUMER, monthly, per_million

    template, measured = load_template(), quiet_measurements()
    one = inventory(template)
    lines, second = monthly(template_facts(template), one, measured)
    by_name = {line.name: line.usd for line in lines}
    # The second region creates no secrets (it reads the primary's replicas, priced apart) and has the consumer
    # and its alarms, which a one-region stack does not.
    assert second.secrets == [] and CONSUMER in second.function_memory_mb and CONSUMER not in one.function_memory_mb
    assert by_name["replica secrets"] == len(one.secrets) * SECRETS_MANAGER_PER_SECRET_MONTH
    assert by_name["primary's replication"] > 0 and by_name["second region's stack"] > 0
    # Each keys-table write is billed again in the replica; the stream's reads by the trigger are free.
    replicated = {line.name: line.usd for line in per_million(1_000, template_facts(template), measured, second)}
    assert replicated["stream reads"] == 0
    assert replicated["replicated writes (rWRU)"] >= DYNAMODB_PER_REPLICATED_WRITE_UNIT * 1e6 * 0.01
