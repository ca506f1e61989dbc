"""`python -m archie_local.moto_process -p PORT`: moto's server, one request at a time.

moto's server is threaded, but its DynamoDB backend is not safe under concurrent requests: a transaction
deep-copies each table it touches and restores the copy when it is cancelled, so a write arriving meanwhile
(the audit ingest writes all the time) is lost, or the copy fails and moto answers 500. DynamoDB itself
isolates transactions; here a lock around the application gives the same guarantee. Connections stay
threaded and kept alive; only the handling of each request is serialized (moto is Python under the GIL, so
little is lost).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

from archie_local.moto_transactions import install as install_transactions


def serialized(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    lock = threading.Lock()

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))  # the whole response is produced under the lock

    return handle


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m archie_local.moto_process")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    install_transactions()  # rolled back item by item: a transaction's cost no longer grows with its table
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, serialized(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
