"""`python -m archie_local run`: start the local stack in the foreground (what `make run` does).

stdout carries exactly one line, `admin key: <key>`, so scripts can read it; everything else goes to stderr:
the addresses, then `export API=... SAMPLE=... KEY=...` lines to paste into another shell, then nothing while
idle. The functions' logs and metrics go to a log file (`--log-file`); `--verbose` (`VERBOSE=1`) streams them
to stderr too (archie_local.console). Ctrl-C stops everything it started.

`python -m archie_local secret NAME` (`make secret NAME=...`): a delivered secret's value, as a consumer reads
it, from the running stack (see archie_local.secret_reader).

`python -m archie_local oidc-issuer` and `oidc-token` (`make oidc-issuer`, `make oidc-token`): the development
OIDC issuer, and a token from it (see archie_local.oidc_cli)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] in (["oidc-issuer"], ["oidc-token"]):
        from archie_local.oidc_cli import main as oidc_main

        return oidc_main(arguments)
    parser = argparse.ArgumentParser(prog="python -m archie_local")
    parser.add_argument("command", choices=["run", "secret"])
    parser.add_argument("name", nargs="?", help="secret: the name of a delivered secret")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--sample-port", type=int, default=int(os.environ.get("SAMPLE_PORT", "3001")))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", "0")))
    parser.add_argument(
        "--oidc-port",
        type=int,
        default=int(os.environ.get("OIDC_PORT", "3002")),
        help="the development OIDC issuer's port (0: a free one)",
    )
    parser.add_argument(
        "--regions",
        default=os.environ.get("REGIONS", ""),
        help="run: one stack per region, the keys table replicated between them (archie_local.regions)",
    )
    parser.add_argument("--second-port", type=int, default=int(os.environ.get("SECOND_PORT") or 0))
    parser.add_argument("--second-sample-port", type=int, default=int(os.environ.get("SECOND_SAMPLE_PORT") or 0))
    parser.add_argument("--project", default="demo")
    parser.add_argument("--environment", default="dev")
    parser.add_argument(
        "--state-file",
        default=".local-stack.json",
        help="where to write the stack's connection while it runs (`make bootstrap` and `make secret` read it)",
    )
    parser.add_argument(
        "--log-file",
        default=".local-stack.log",
        help="where the functions' logs and metrics go (on AWS: their log groups); rewritten at each start",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=os.environ.get("VERBOSE", "") not in ("", "0"),
        help="stream the functions' logs and metrics to stderr as well (default: $VERBOSE)",
    )
    args = parser.parse_args(argv)
    if args.command == "secret":
        if not args.name:
            parser.error("secret needs the secret's name")
        from archie_local.secret_reader import read_secret

        return read_secret(args.name, args.state_file)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if len([r for r in args.regions.split(",") if r.strip()]) > 1:
        from archie_local.regions import run_regions

        return run_regions(args)
    # One region of `make run REGIONS=...` (archie_local.regions starts each): its template parameters, the
    # primary's secrets as replicated here, and whether it bootstraps (the primary only: the rest replicates).
    region_parameters = json.loads(os.environ.get("ARCHIE_LOCAL_PARAMETERS") or "{}")
    replica_secrets = json.loads(os.environ.get("ARCHIE_LOCAL_REPLICA_SECRETS") or "{}")
    replica_only = os.environ.get("ARCHIE_LOCAL_REPLICA_ONLY") == "1"
    # And what its functions are told of the other regions (archie_local.regions: their audit tables, endpoints).
    environment_overrides = json.loads(os.environ.get("ARCHIE_LOCAL_ENVIRONMENT") or "{}")

    # Handlers log to stdout as on Lambda; here stdout belongs to the one `admin key:` line, so their logs go
    # to the log file, and to stderr only when they need a person (or with --verbose).
    from archie_local.console import FunctionOutput, export_lines

    key_out = sys.stdout
    function_output = FunctionOutput(sys.stderr, Path(args.log_file), verbose=args.verbose)
    sys.stdout = function_output

    from archie_local.demo_trust import (
        DASHBOARD_CLIENT_ID,
        DEMO_AUDIENCE,
        DEMO_POLICY,
        DEMO_SUBJECT,
        PEOPLE_POLICIES,
        trust_local_issuer,
    )
    from archie_local.oidc_cli import STATE_KEY
    from archie_local.oidc_issuer import DEMO_USERS, LocalOidcIssuer
    from archie_local.stack import LocalStack

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # The issuer first: the stack's dashboard signs people in with it (its config.js and CSP name it).
    with (
        LocalOidcIssuer().serve(args.oidc_port) as issuer,
        LocalStack(
            port=args.port,
            sample_port=args.sample_port,
            moto_port=args.moto_port,
            oidc_issuer=issuer.url,
            parameter_overrides=region_parameters,
            environment_overrides=environment_overrides,
            replica_secrets=replica_secrets,
        ) as stack,
    ):
        key = ""
        if not replica_only:
            key = stack.bootstrap(args.project, args.environment)
            trust_local_issuer(issuer.url, args.project, args.environment)
        err = sys.stderr
        print(f"management API + dashboard: {stack.url('ManagementApi')}/", file=err)
        print(f"OpenAPI document, Swagger UI: {stack.url('ManagementApi')}/openapi.json, /docs/", file=err)
        print(f"sample protected API:       {stack.url('SampleApi')}/orders", file=err)
        staged = stack.url("ManagementApi", with_stage=True)
        print(f"the same under its stage:   {staged}/ (as execute-api serves it)", file=err)
        print(f"moto server (AWS APIs):     {stack.moto_url}", file=err)
        print(
            f"local OIDC issuer: {issuer.url} (trusted by {DEMO_POLICY}: sub {DEMO_SUBJECT}, aud {DEMO_AUDIENCE})",
            file=err,
        )
        print(
            f"dashboard sign-in (SSO):    {', '.join(u.email for u in DEMO_USERS)} "
            f"(policies {', '.join(PEOPLE_POLICIES)}, aud {DASHBOARD_CLIENT_ID})",
            file=err,
        )
        print(f"bootstrapped {args.project}/{args.environment}; Ctrl-C stops everything", file=err)
        state = Path(args.state_file)
        addresses = {"MANAGEMENT_URL": stack.url("ManagementApi"), "SAMPLE_URL": stack.url("SampleApi")}
        state.write_text(json.dumps({**stack.connection(), **addresses, STATE_KEY: issuer.url}, indent=2) + "\n")
        print(f"connection for `make bootstrap`: {state}", file=err)
        shown = "streamed here too" if args.verbose else "VERBOSE=1 streams them here"
        print(f"function logs and metrics:  {args.log_file} ({shown})", file=err)
        print("# to use it from another shell, paste:", file=err)
        variables = {
            "API": f"{stack.url('ManagementApi')}/projects/{args.project}/environments/{args.environment}",
            "SAMPLE": stack.url("SampleApi"),
            "KEY": key,
        }
        for line in export_lines(variables):
            print(line, file=err)
        err.flush()
        if key:
            print(f"admin key: {key}", file=key_out, flush=True)
        try:
            while not stop.wait(0.5):
                pass
        finally:
            state.unlink(missing_ok=True)
    sys.stdout = key_out
    function_output.close()
    print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
