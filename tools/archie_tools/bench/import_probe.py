"""What a cold start of the authorizer costs in imports, against a bare `import boto3`: each measured in a fresh
interpreter (`make bench`'s authorizer_import_ms and boto3_import_ms)."""

from __future__ import annotations

import statistics
import sys

# What a cold start loads before its first decision: the handler module and everything that decision imports
# on first use (boto3 and its DynamoDB types, argon2, the thread pool of the cold path). Deferring an import
# to the first call would not make a cold start faster, so the probe counts it here.
AUTHORIZER_PROBE = """
import importlib.util, sys, time
start = time.perf_counter()
sys.path.insert(0, "layers/shared")  # as Lambda puts the layer (/opt/python) on the path: no editable finder
spec = importlib.util.spec_from_file_location("authorizer", "functions/authorizer/authorizer.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import boto3, boto3.dynamodb.types, argon2, concurrent.futures
print((time.perf_counter() - start) * 1000)
"""
BOTO3_PROBE = """
import time
start = time.perf_counter()
import boto3
print((time.perf_counter() - start) * 1000)
"""


def import_ms(runs: int = 15) -> tuple[float, float]:
    """(authorizer, bare boto3) import times in fresh interpreters, medians of interleaved runs, so drift in a
    shared machine's speed affects both sides of their ratio alike."""
    import subprocess

    def probe(code: str) -> float:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603 - our code
        return float(done.stdout)

    authorizer, boto3 = [], []
    for _ in range(runs):
        authorizer.append(probe(AUTHORIZER_PROBE))
        boto3.append(probe(BOTO3_PROBE))
    return statistics.median(authorizer), statistics.median(boto3)
