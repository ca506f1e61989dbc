"""The command line, `python -m archie_keys`: `bootstrap --project P --environment E [--stack-name S]`.

Against AWS, --stack-name reads the table and secret names from the stack's outputs (credentials from the
usual AWS chain). Against the local stack, point AWS_ENDPOINT_URL at its moto server (see README)."""

from __future__ import annotations

import argparse
import os
import sys


def _from_stack(stack_name: str) -> None:
    import boto3

    outputs = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0].get("Outputs", [])
    values = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    os.environ.setdefault("KEYS_TABLE", values["KeysTableName"])
    os.environ.setdefault("IDEMPOTENCY_TABLE", values["IdempotencyTableName"])
    os.environ.setdefault("PEPPER_SECRET_ID", values["PepperSecretArn"])
    os.environ.setdefault("PROTECTED_APIS_PATH", values.get("ProtectedApisPath", ""))
    os.environ.setdefault("AUDIT_TABLE", values.get("AuditTableName", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m archie_keys")
    commands = parser.add_subparsers(dest="command", required=True)
    boot = commands.add_parser("bootstrap", help="declare an environment and print its first admin key, once")
    boot.add_argument("--project", required=True)
    boot.add_argument("--environment", required=True)
    boot.add_argument("--stack-name", help="read table and secret names from this CloudFormation stack")
    boot.add_argument("--name", default="bootstrap admin", help="name of the admin key")
    args = parser.parse_args(argv)

    if args.stack_name:
        _from_stack(args.stack_name)
    from archie_keys.app.bootstrap import bootstrap
    from archie_keys.app.commands import Place
    from archie_keys.domain.errors import ArchieError
    from archie_keys.edge.composition import get_services
    from archie_keys.edge.settings import ConfigurationError

    try:
        new = bootstrap(get_services(), Place(args.project, args.environment), args.name)
    except (ArchieError, ConfigurationError) as error:
        print(f"bootstrap refused: {getattr(error, 'message', error)}", file=sys.stderr)
        return 2
    print(f"admin key: {new.value}")
    print(
        f"key id {new.record['key_id']} in {args.project}/{args.environment}; store the key now, it is not shown again",
        file=sys.stderr,
    )
    return 0
