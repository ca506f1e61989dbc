"""The command line, `python -m archie_keys`:

* `bootstrap --project P --environment E [--stack-name S]`: against AWS, --stack-name reads the table and
  secret names from the stack's outputs (credentials from the usual AWS chain). Against the local stack,
  point AWS_ENDPOINT_URL at its moto server (or run `make bootstrap`: docs/operations.md).
* `scan PATH...`: report the Archie keys in files (see archie_keys.scan). It needs no AWS and imports
  nothing of the service, so it runs anywhere the package is installed, as a pre-commit hook too."""

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
    os.environ.setdefault("KEY_TAG_SECRET_ID", values["KeyTagSecretArn"])
    os.environ.setdefault("PROTECTED_APIS_PATH", values.get("ProtectedApisPath", ""))
    os.environ.setdefault("AUDIT_TABLE", values.get("AuditTableName", ""))


LOCAL_STATE = ".local-stack.json"


def _from_local_stack(path: str) -> bool:
    """The running local stack's connection (moto's endpoint, table and secret names), as `make run` wrote it."""
    import json
    from pathlib import Path

    state = Path(path)
    if not state.is_file():
        return False
    for name, value in json.loads(state.read_text()).items():
        os.environ.setdefault(name, str(value))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m archie_keys")
    commands = parser.add_subparsers(dest="command", required=True)
    boot = commands.add_parser("bootstrap", help="declare an environment and print its first admin key, once")
    boot.add_argument("--project", required=True)
    boot.add_argument("--environment", required=True)
    boot.add_argument("--stack-name", help="read table and secret names from this CloudFormation stack")
    boot.add_argument(
        "--local",
        nargs="?",
        const=LOCAL_STATE,
        metavar="FILE",
        help=f"the running local stack (`make run` writes its connection to {LOCAL_STATE})",
    )
    boot.add_argument("--name", default="bootstrap admin", help="name of the admin key")
    scan = commands.add_parser(
        "scan",
        help="report Archie keys in files (exit 1 if any); prints each key's public start, never its secret",
    )
    scan.add_argument("paths", nargs="+", metavar="PATH", help="a file, or a directory to walk")
    args = parser.parse_args(argv)

    if args.command == "scan":
        from archie_keys.scan import main as scan_main

        return scan_main(args.paths)
    if args.stack_name:
        _from_stack(args.stack_name)
    elif args.local and not _from_local_stack(args.local):
        print(f"no local stack: {args.local} is missing (start `make run` first)", file=sys.stderr)
        return 2
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
        f"key id {new.record.key_id} in {args.project}/{args.environment}; store the key now, it is not shown again",
        file=sys.stderr,
    )
    return 0
