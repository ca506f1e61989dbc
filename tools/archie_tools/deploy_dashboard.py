"""`python -m archie_tools.deploy_dashboard --stack-name S`: publish the static site to the stack's CloudFront.

The site is archie_local.site's: the dashboard at the root, the OpenAPI document at /openapi.json and Swagger
UI at /docs/ (the document is static, so it is published here rather than by a function answering without
a key on the management API). Reads the stack's outputs (ApiUrl, DashboardBucketName, the distribution),
uploads every file with its content type, a config.js pointing at the API and its sign-in (the SignIn*
outputs), the OpenAPI document naming
it as its server, and invalidates CloudFront's cache. Uses the ordinary AWS credential chain."""

from __future__ import annotations

import argparse
import mimetypes
import sys
import time

import boto3

from archie_local.site import dashboard_config, served_openapi, sign_in_config, site_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m archie_tools.deploy_dashboard")
    parser.add_argument("--stack-name", required=True)
    args = parser.parse_args(argv)
    stack = boto3.client("cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    bucket, api_url = outputs["DashboardBucketName"], outputs["ApiUrl"]
    s3 = boto3.client("s3")
    for key, path in sorted(site_files().items()):
        body = path.read_bytes()
        if key == "config.js":
            body = dashboard_config(api_url, sign_in_config(outputs))
        elif key == "openapi.json":
            body = served_openapi(api_url)  # its servers: this stack's API
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
