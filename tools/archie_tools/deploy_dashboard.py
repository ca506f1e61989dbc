"""`python -m archie_tools.deploy_dashboard --stack-name S`: publish dashboard/ to the stack's static site.

Reads the stack's outputs (ApiUrl, DashboardBucketName, DashboardDistribution via DashboardUrl), uploads the
files (subfolders included) with their content types and a config.js pointing at the API, and invalidates
CloudFront's cache. Uses the ordinary AWS credential chain."""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
from pathlib import Path

import boto3

DASHBOARD_ROOT = Path(__file__).resolve().parents[2] / "dashboard"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m archie_tools.deploy_dashboard")
    parser.add_argument("--stack-name", required=True)
    args = parser.parse_args(argv)
    stack = boto3.client("cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    bucket, api_url = outputs["DashboardBucketName"], outputs["ApiUrl"]
    s3 = boto3.client("s3")
    for path in sorted(DASHBOARD_ROOT.rglob("*")):
        if not path.is_file():
            continue
        key = path.relative_to(DASHBOARD_ROOT).as_posix()
        body = path.read_bytes()
        if key == "config.js":
            body = f"window.ARCHIE_CONFIG = {json.dumps({'apiUrl': api_url})};\n".encode()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        print(f"uploaded {key}", file=sys.stderr)
    resources = boto3.client("cloudformation").describe_stack_resource(
        StackName=args.stack_name, LogicalResourceId="DashboardDistribution"
    )
    distribution = resources["StackResourceDetail"]["PhysicalResourceId"]
    boto3.client("cloudfront").create_invalidation(
        DistributionId=distribution,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time())},
    )
    print(outputs["DashboardUrl"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
