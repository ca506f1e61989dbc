"""The whole service on one machine: moto server + provisioned resources + local API Gateways + emulated
Scheduler, with the real handlers invoked in-process. No AWS account, no Docker."""

from __future__ import annotations

import logging
import os
import socket
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from archie_local.gateway import Gateway, HttpService, LocalApi, build_apis, control_plane
from archie_local.lambdas import FunctionRegistry
from archie_local.provision import Provisioned, provision
from archie_local.scheduler import SchedulerEmulator
from archie_local.template import REGION, REPO_ROOT, load_template, resources_of_type

logger = logging.getLogger("archie_local")

DASHBOARD_ROOT = REPO_ROOT / "dashboard"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalStack:
    """Start with start(), stop with stop() (also a context manager). Ports: ManagementApi on `port`,
    SampleApi on `sample_port` (0 picks free ports, as tests do)."""

    def __init__(
        self,
        port: int = 3000,
        sample_port: int = 3001,
        moto_port: int = 0,
        environment_overrides: dict[str, str] | None = None,
        parameter_overrides: dict[str, str] | None = None,
    ) -> None:
        self.ports = {"ManagementApi": port, "SampleApi": sample_port}
        self.moto_port = moto_port
        self.environment_overrides = environment_overrides or {}
        self.parameter_overrides = parameter_overrides or {}
        self.apis: dict[str, LocalApi] = {}
        self.services: dict[str, HttpService] = {}
        self._started: list[Any] = []
        self._saved_environ: dict[str, str] | None = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, api: str = "ManagementApi") -> str:
        return self.services[api].url

    def start(self) -> LocalStack:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        self._saved_environ = dict(os.environ)
        self.moto_port = self.moto_port or free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        moto.start()
        self._started.append(moto)
        self.moto_url = f"http://127.0.0.1:{self.moto_port}"
        # moto keeps its state in this process; a stack started earlier in the same process must not leak in.
        urllib.request.urlopen(urllib.request.Request(f"{self.moto_url}/moto-api/reset", method="POST"), timeout=10)  # noqa: S310 - our own loopback URL

        # The control plane is up before anything can call it.
        control = HttpService(control_plane_lazy(self), 0).start()
        self._started.append(control)
        self.control_url = control.url

        os.environ.update(
            {
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_ENDPOINT_URL": self.moto_url,
                "AWS_ENDPOINT_URL_API_GATEWAY": self.control_url,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_NAMESPACE": "archie-keys-local",
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        template = load_template()
        self.provisioned: Provisioned = provision(
            template, self.moto_url, self.parameter_overrides, self.environment_overrides
        )
        os.environ.update(self.provisioned.environment)
        from archie_keys import runtime

        runtime.reset()

        self.registry = FunctionRegistry(self.provisioned.functions)
        self.apis = build_apis(template, self.provisioned.resolver, self.registry)
        if DASHBOARD_ROOT.is_dir():
            self.apis["ManagementApi"].static_root = DASHBOARD_ROOT
        for name, api in self.apis.items():
            service = HttpService(Gateway(api, self.access_log_sink()).handle, self.ports.get(name, 0)).start()
            self.services[name] = service
            self._started.append(service)

        groups = [
            self.provisioned.resolver.ref(n) for n in resources_of_type(template, "AWS::Scheduler::ScheduleGroup")
        ]
        self.scheduler = SchedulerEmulator(boto3.client("scheduler"), groups, self.registry).start()
        self._started.append(self.scheduler)
        return self

    def access_log_sink(self) -> Any:
        return None

    def bootstrap(self, project: str = "demo", environment: str = "dev") -> str:
        from archie_keys.bootstrap import bootstrap
        from archie_keys.runtime import get_hasher, get_store
        from archie_keys.settings import get_settings

        return bootstrap(get_store(), get_hasher(), get_settings(), project, environment).value

    def stop(self) -> None:
        for service in reversed(self._started):
            try:
                service.stop()
            except Exception:
                logger.exception("stopping %s failed", type(service).__name__)
        self._started.clear()
        if self._saved_environ is not None:
            os.environ.clear()
            os.environ.update(self._saved_environ)
            self._saved_environ = None


def control_plane_lazy(stack: LocalStack) -> Any:
    def dispatch(request: Any) -> Any:
        return control_plane(stack.apis)(request)

    return dispatch


def dashboard_exists() -> bool:
    return Path(DASHBOARD_ROOT).is_dir()
