"""`make bench`: the authorizer handler in-process against the local stack's moto server, then the audit
compactor over one hot key's bucket (tools/archie_tools/bench/compaction_bench.py).

Prints p50/p99 (microseconds) for a valid key with a cold in-function cache, the same key warm, a key with
a bad checksum, a forged key (checksum-valid, never issued: refused by its tag) and a warm key holding 10
roles x 20 permissions; the AWS calls malformed and forged keys cost (0), the time a known key id with a
wrong secret takes beyond an unknown one (existence_gap_us_p50), how long after expires_at the gateway still
answers 200 (expiry_late_ms_p99, archie_tools.bench.expiry_bench), what a look-alike with a valid tag costs
(verify_*); beside them the raw cost of one argon2 verify with the deployed parameters, one HMAC-SHA256 and
one DynamoDB GetItem on the same backend. The last line is one JSON object. Numbers are from one run on one
machine: compare within a run, not across runs. The events and keys it presents are
archie_tools.bench.authorizer_scenarios', its timing bench_timing's, the cold-start imports import_probe's.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import secrets
import sys
from typing import Any

from archie_tools.bench.authorizer_scenarios import deny, event, forged_event, refuse_quietly, wide_key
from archie_tools.bench.bench_timing import AwsCallCounter, measure, percentiles, timed
from archie_tools.bench.import_probe import import_ms


def main() -> int:
    # Handlers log, and the authorizer writes a metric line per decision, to stdout as on Lambda; here stdout is
    # for the result line only, and thousands of decisions' lines would drown stderr: they go to /dev/null,
    # still written, so their cost is measured (set before any handler code is imported, since loggers keep
    # the stream they were created with).
    result_out, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 - for the whole run
    import boto3
    from argon2 import PasswordHasher, Type

    from archie_keys.domain.keyformat import checksum, key_tag
    from archie_keys.edge.composition import get_services, get_settings
    from archie_local.stack import LocalStack
    from archie_tools.bench import expiry_bench, guard_bench

    # Deployed argon2 parameters (19456 KiB, t=2, p=1); keys may expire a second after they are made.
    with LocalStack(port=0, sample_port=0, environment_overrides={"KEY_MIN_LIFETIME_SECONDS": "1"}) as stack:
        admin = stack.bootstrap("demo", "dev")
        expiry = expiry_bench.measure(stack, admin)  # with the whole stack running, as expiries happen
        guard = guard_bench.measure(stack, admin)  # the log deliverer running: what the watermark's wait costs
        wide = wide_key(stack, admin)
        stack.quiesce()  # background threads (schedules, log delivery) would compete for the GIL
        authorizer = stack.registry["AuthorizerFunction"]
        settings = get_settings()
        good, wide_event = event(admin), event(wide)
        bad_checksum = event(admin[:-1] + ("a" if admin[-1] != "a" else "b"))
        authorizer.invoke(good)  # load the handler, fetch the pepper once (its own cache)

        results: dict[str, Any] = {}
        # Cold decisions and their reference costs (argon2 verify, GetItem) are measured interleaved, one of
        # each per round, so drift in this machine's speed (shared cores) affects both sides of the ratio.
        hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        reference_secret = secrets.token_bytes(32)
        stored = hasher.hash(reference_secret)
        client = boto3.client("dynamodb")
        env_item = {"pk": {"S": "PROJECT#demo#ENV#dev"}, "sk": {"S": "ENV"}}
        cold, argon2_runs, getitem_runs = [], [], []
        for _ in range(60):
            get_services().verifier.clear()
            cold.append(timed(lambda: authorizer.invoke(good)))
            argon2_runs.append(timed(lambda: hasher.verify(stored, reference_secret)))
            getitem_runs.append(
                timed(lambda: client.get_item(TableName=settings.keys_table, Key=env_item, ConsistentRead=True))
            )
        results["cold_p50_us"], results["cold_p99_us"] = percentiles(cold)
        results["argon2_verify_p50_us"], results["argon2_verify_p99_us"] = percentiles(argon2_runs)
        results["getitem_p50_us"], results["getitem_p99_us"] = percentiles(getitem_runs)

        for _ in range(500):  # warm up: caches, allocator
            authorizer.invoke(good)
        results["warm_p50_us"], results["warm_p99_us"] = measure(lambda: authorizer.invoke(good), 3000)
        # The witness (app.authorization_witness): a warm decision that must first record the key's
        # authorization (one UpdateItem), which an instance does once per key per coalescing interval. The
        # median decision does not write (warm_p50_us); what a write adds is spread over that interval's
        # decisions of the key: `witness_amortised_us_at_1rps`, one decision a second per key per instance.
        witness = get_services().witness
        for _ in range(20):
            witness.clear()
            authorizer.invoke(good)
        witness_runs = []
        for _ in range(300):
            witness.clear()
            witness_runs.append(timed(lambda: authorizer.invoke(good)))
        results["witness_write_decision_p50_us"], results["witness_write_decision_p99_us"] = percentiles(witness_runs)
        results["witness_write_extra_us"] = results["witness_write_decision_p50_us"] - results["warm_p50_us"]
        results["witness_amortised_us_at_1rps"] = (
            results["witness_write_extra_us"] / settings.authorizer_witness_seconds
        )
        for _ in range(500):
            authorizer.invoke(wide_event)
        results["warm_p50_us_10x20"], results["warm_p99_us_10x20"] = measure(
            lambda: authorizer.invoke(wide_event), 3000
        )

        def refused() -> None:
            try:
                authorizer.invoke(bad_checksum)
            except Exception as error:  # noqa: BLE001 - the authorizer's 401 is a bare Exception("Unauthorized")
                assert str(error) == "Unauthorized"

        with AwsCallCounter() as counter:
            results["malformed_p50_us"], results["malformed_p99_us"] = measure(refused, 3000)
        results["malformed_aws_calls"] = counter.calls

        # Forged keys: checksum-valid (anyone can compute one), never issued. A fresh one per request, so no
        # cache of any layer helps: each is refused by its tag alone. Interleaved with malformed ones, so the
        # machine's drift affects both sides of their ratio alike.
        forgeries = [forged_event(admin) for _ in range(3000)]
        forged_runs, malformed_runs = [], []
        with AwsCallCounter() as counter:
            for forgery in forgeries:
                forged_runs.append(timed(functools.partial(deny, authorizer, forgery)))
                malformed_runs.append(timed(refused))
        results["forged_aws_calls"] = counter.calls
        results["forged_p50_us"], results["forged_p99_us"] = percentiles(forged_runs)
        results["forged_over_malformed"] = round(results["forged_p50_us"] / percentiles(malformed_runs)[0], 2)
        # What timing tells of a key id: a known id with a wrong secret against an unknown id, each fresh.
        known_id = admin.split("_")[-1][:12]
        known, unknown = [], []
        for _ in range(2000):
            known.append(timed(lambda: deny(authorizer, forged_event(admin, known_id))))
            unknown.append(timed(lambda: deny(authorizer, forged_event(admin))))
        results["existence_gap_us_p50"] = round(percentiles(known)[0] - percentiles(unknown)[0], 1)

        # What a look-alike with a valid tag still costs (only the holder of the tag keys can make one, or a
        # key purged after its retention): an unknown id and a known id with a wrong secret, with no cache.
        tag_key = get_services().key_tags().current
        public_start = admin[:-28]
        wrong = public_start + "Z" * 16 + key_tag(tag_key, public_start + "Z" * 16)
        unknown_start = public_start[:-12] + "0" * 12
        unknown_id_key = unknown_start + "Z" * 16 + key_tag(tag_key, unknown_start + "Z" * 16)
        for name, candidate in (
            ("verify_wrong_secret", wrong + checksum(wrong)),
            ("verify_unknown", unknown_id_key + checksum(unknown_id_key)),
        ):
            results[f"{name}_p50_us"], results[f"{name}_p99_us"] = measure(
                functools.partial(refuse_quietly, candidate), 30, before=get_services().verifier.clear
            )

        pepper, secret = secrets.token_bytes(64), secrets.token_urlsafe(16).encode()
        results["hmac_p50_us"], results["hmac_p99_us"] = measure(
            lambda: hmac.new(pepper, secret, hashlib.sha256).digest(), 20000
        )

    results.update(expiry)
    results["authorizer_import_ms"], results["boto3_import_ms"] = import_ms()
    from archie_tools.bench.compaction_bench import measure as measure_compaction

    compaction = measure_compaction()  # its own moto server, after the authorizer's stack has stopped
    results["authorizer_over_boto3_import"] = round(results["authorizer_import_ms"] / results["boto3_import_ms"], 2)
    results = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in results.items()}
    results["argon2_parameters"] = (
        f"m={settings.argon2_memory_kib},t={settings.argon2_time_cost},p={settings.argon2_parallelism}"
    )
    results["warm_over_hmac"] = round(results["warm_p50_us"] / results["hmac_p50_us"], 1)
    results["warm_10x20_over_hmac"] = round(results["warm_p50_us_10x20"] / results["hmac_p50_us"], 1)
    results["cold_over_argon2_plus_getitem"] = round(
        results["cold_p50_us"] / (results["argon2_verify_p50_us"] + results["getitem_p50_us"]), 2
    )
    for name in (
        "cold",
        "warm",
        "warm_10x20",
        "malformed",
        "forged",
        "verify_unknown",
        "verify_wrong_secret",
        "hmac",
        "argon2_verify",
        "getitem",
    ):
        suffix = ("_10x20", "warm") if name == "warm_10x20" else ("", name)
        p50 = results[f"{suffix[1]}_p50_us{suffix[0]}"]
        p99 = results[f"{suffix[1]}_p99_us{suffix[0]}"]
        print(f"{name:>14}: p50 {p50:>10} us   p99 {p99:>10} us", file=sys.stderr)
    print(
        f"targets: warm <= 20 x hmac ({results['warm_over_hmac']}x; 10x20: {results['warm_10x20_over_hmac']}x), "
        f"cold <= 1.3 x (argon2 + GetItem) ({results['cold_over_argon2_plus_getitem']}x), "
        f"malformed AWS calls = 0 ({results['malformed_aws_calls']}), forged AWS calls = 0 "
        f"({results['forged_aws_calls']}), forged <= 1.5 x malformed ({results['forged_over_malformed']}x), "
        f"existence gap {results['existence_gap_us_p50']} us; expiry late p99 {results['expiry_late_ms_p99']} ms "
        f"over {results['expiry_keys']} keys; "
        f"authorizer cold-start imports {results['authorizer_import_ms']} ms <= 1.2 x bare boto3 "
        f"{results['boto3_import_ms']} ms ({results['authorizer_over_boto3_import']}x)",
        file=sys.stderr,
    )
    print(
        f"compaction: one key's {compaction['compaction_records']} records in one bucket, "
        f"{compaction['compaction_records_per_s']}/s end to end >= 20,000 "
        f"({compaction['compaction_cpu_records_per_s']}/s of the compactor's own CPU; moto busy "
        f"{compaction['compaction_moto_busy']:.0%}), peak RSS {compaction['compaction_peak_rss_mb']} MB <= 512",
        file=sys.stderr,
    )
    print(
        f"witness: a decision that writes it p50 {results['witness_write_decision_p50_us']} us "
        f"(+{results['witness_write_extra_us']} us over warm), once per key per "
        f"{settings.authorizer_witness_seconds:g} s per instance: +{results['witness_amortised_us_at_1rps']} us "
        "per decision at one a second",
        file=sys.stderr,
    )
    print(
        f"guarded delete over HTTP (ms, p50/p99 of {guard['guarded_delete_rounds']}): 409 right after a request "
        f"{guard['guarded_delete_in_use_409_ms_p50']}/{guard['guarded_delete_in_use_409_ms_p99']}, idle 204 "
        f"{guard['guarded_delete_idle_204_ms_p50']}/{guard['guarded_delete_idle_204_ms_p99']}, unguarded 204 "
        f"{guard['guarded_delete_unguarded_204_ms_p50']}/{guard['guarded_delete_unguarded_204_ms_p99']}",
        file=sys.stderr,
    )
    results.update(compaction)
    results.update(guard)
    print(json.dumps(results), file=result_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
