"""The development OIDC issuer from the command line.

`python -m archie_local oidc-issuer [--port N]` (`make oidc-issuer`): the issuer alone, in the foreground;
its address is the only line on stdout (`issuer: http://127.0.0.1:N`) and is written to `.local-oidc.json`
while it runs. Ctrl-C stops it.

`python -m archie_local oidc-token --sub S --aud A [--claims JSON] [--ttl N]` (`make oidc-token`): a token
minted by the running issuer, alone on stdout. The issuer is found in $OIDC_ISSUER_URL, else in the local
stack's `.local-stack.json` (its OIDC_ISSUER_URL, once `make run` starts the issuer), else `.local-oidc.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

ISSUER_STATE_FILE = ".local-oidc.json"
STACK_STATE_FILE = ".local-stack.json"
STATE_KEY = "OIDC_ISSUER_URL"


def issuer_url(environ: dict[str, str], directory: Path) -> str | None:
    if environ.get(STATE_KEY):
        return environ[STATE_KEY]
    for name in (STACK_STATE_FILE, ISSUER_STATE_FILE):
        path = directory / name
        if path.is_file():
            url = json.loads(path.read_text()).get(STATE_KEY)
            if url:
                return str(url)
    return None


def run_issuer(port: int, state_file: Path) -> int:
    from archie_local.oidc_issuer import LocalOidcIssuer

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalOidcIssuer().serve(port) as issuer:
        state_file.write_text(json.dumps({STATE_KEY: issuer.url}) + "\n")
        print(f"local OIDC issuer: {issuer.url}/.well-known/openid-configuration; Ctrl-C stops it", file=sys.stderr)
        print(f"issuer: {issuer.url}", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        finally:
            state_file.unlink(missing_ok=True)
    return 0


def mint_token(url: str, subject: str, audience: str, claims: str | None, ttl: int | None) -> int:
    body: dict[str, object] = {"sub": subject, "aud": audience}
    if claims:
        try:
            body["claims"] = json.loads(claims)
        except ValueError:
            print('CLAIMS must be a JSON object, e.g. \'{"repository": "acme/billing"}\'', file=sys.stderr)
            return 2
    if ttl is not None:
        body["ttl_seconds"] = ttl
    data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
    request = urllib.request.Request(f"{url}/mint", data=data, headers=headers, method="POST")  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local issuer's own URL
            print(json.loads(response.read())["token"])
    except urllib.error.HTTPError as error:
        print(f"the issuer refused: {error.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as error:
        print(f"no issuer answers at {url} ({error}): start `make run` or `make oidc-issuer`", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m archie_local")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("oidc-issuer", help="run the development OIDC issuer in the foreground")
    serve.add_argument("--port", type=int, default=0, help="0: a free port")
    serve.add_argument("--state-file", default=ISSUER_STATE_FILE)
    token = commands.add_parser("oidc-token", help="print a token minted by the running development issuer")
    token.add_argument("--sub", required=True)
    token.add_argument("--aud", required=True)
    token.add_argument("--claims", default=None, help="JSON object of further claims")
    token.add_argument("--ttl", type=int, default=None, help="seconds (default 300)")
    args = parser.parse_args(argv)
    if args.command == "oidc-issuer":
        return run_issuer(args.port, Path(args.state_file))
    url = issuer_url(dict(os.environ), Path.cwd())
    if url is None:
        print("no local OIDC issuer: start `make run` or `make oidc-issuer` first", file=sys.stderr)
        return 2
    if not url.startswith("http://127.0.0.1:"):
        print(f"{url} is not the local issuer (http://127.0.0.1:<port>)", file=sys.stderr)
        return 2
    return mint_token(url, args.sub, args.aud, args.claims, args.ttl)
