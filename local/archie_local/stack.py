"""The whole service on one machine: moto server + provisioned resources + local API Gateways + emulated
Scheduler and Lambda Invoke, with the real handlers invoked in-process. No AWS account, no Docker."""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from typing import Any

import boto3

from archie_local.control_plane import control_plane
from archie_local.gateway import Gateway
from archie_local.http_server import HttpService
from archie_local.lambdas import FunctionRegistry
from archie_local.logs import LOCAL_DELIVERER, FunctionLogCapture, LogsEmulator
from archie_local.moto_server import MotoServer, free_port
from archie_local.provision import Provisioned, provision
from archie_local.queue_events import QueueEventSources, queue_sources
from archie_local.routing import LocalApi, build_apis
from archie_local.scheduler import RecurringScheduler, SchedulerEmulator, recurring_schedules
from archie_local.site import local_sign_in_config, rendered_for, security_headers, site_file
from archie_local.template import REGION, FunctionSpec, load_template, resources_of_type

logger = logging.getLogger("archie_local")


# The audit's arrival buckets locally: a key's audit trails its environment's by about two buckets, which on
# one machine need not be minutes. RecurringScheduler runs the template's schedules this often.
# Trust policies may name the development OIDC issuer, on http://127.0.0.1 (never on AWS: https only).
# The log deliverer here (archie_local.logs) attests its deliveries; the ingest honours that only when told.
LOCAL_ENVIRONMENT = {
    "AUDIT_ARRIVAL_BUCKET_SECONDS": "1",
    "AUDIT_SETTLE_SECONDS": "0.2",
    "OIDC_ALLOW_LOOPBACK_HTTP": "1",
    "AUDIT_TRUSTED_DELIVERER": LOCAL_DELIVERER,
}
RECURRING_PERIOD_SECONDS = 0.25


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
        oidc_issuer: str | None = None,
        replica_secrets: dict[str, str] | None = None,  # outside the primary region: archie_local.regions
    ) -> None:
        self.ports = {"ManagementApi": port, "SampleApi": sample_port}
        self.replica_secrets = replica_secrets or {}
        self.moto_port = moto_port
        self.environment_overrides = environment_overrides or {}
        # No X-Ray daemon here: the functions run with tracing off, as the template's Tracing=Disabled sets.
        self.parameter_overrides = {"Tracing": "Disabled", **(parameter_overrides or {})}
        if oidc_issuer is not None:
            # People sign in to the dashboard with the development issuer (`make run` starts it first), as a
            # stack on AWS given SignInIssuer would with another issuer.
            from archie_local.demo_trust import DASHBOARD_CLIENT_ID

            self.parameter_overrides.update(
                SignInIssuer=oidc_issuer,
                SignInClientId=DASHBOARD_CLIENT_ID,
                SignInAuthorizationEndpoint=f"{oidc_issuer}/authorize",
                SignInTokenEndpoint=f"{oidc_issuer}/token",
            )
        self.apis: dict[str, LocalApi] = {}
        self.services: dict[str, HttpService] = {}
        self.gateways: dict[str, Gateway] = {}
        self._started: list[Any] = []
        self._saved_environ: dict[str, str] | None = None

    def __enter__(self) -> LocalStack:
        try:
            return self.start()
        except BaseException:
            self.stop()  # what started before the failure (moto's process, servers, the environment) is undone
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, api: str = "ManagementApi", with_stage: bool = False) -> str:
        """Where `api` is served: by default as a custom domain with an empty base path mapping serves it
        (`http://127.0.0.1:port`, paths as called); with_stage, as execute-api serves it (`.../{stage}`)."""
        root = self.services[api].url
        return f"{root}/{self.apis[api].stage}" if with_stage else root

    def start(self) -> LocalStack:
        self._saved_environ = dict(os.environ)
        self.moto_port = self.moto_port or free_port()
        # moto runs in its own process: its request handling is Python too, and on its own core it does not
        # compete with the gateway and the handlers for this process's GIL.
        moto = MotoServer(self.moto_port).start()
        self._started.append(moto)
        self.moto = moto  # tests take "AWS" away by stopping it
        self.moto_url = moto.url

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
                "AWS_ENDPOINT_URL_LAMBDA": self.control_url,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_NAMESPACE": "archie-keys-local",
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        template = load_template()
        self.provisioned: Provisioned = provision(
            template,
            self.moto_url,
            self.parameter_overrides,
            {**LOCAL_ENVIRONMENT, **self.environment_overrides},
            self.replica_secrets,
        )
        os.environ.update(self.provisioned.environment)
        from archie_keys.edge import composition

        composition.reset()

        self.registry = FunctionRegistry(self.provisioned.functions, self.dead_letters)
        self.apis = build_apis(template, self.provisioned.resolver, self.registry)
        # Logs: subscriptions from the template; the functions' structured logs go to their log groups.
        self.logs = LogsEmulator(template, self.provisioned.resolver, self.registry).start()
        self._started.append(self.logs)
        self._log_capture = FunctionLogCapture(
            self.logs, self.provisioned.resolver.ref("AuthorizerFunctionLogs"), "archie_keys/edge/authorizer.py"
        )
        from archie_keys.edge.authorizer import AUTHORIZER_LOGGER

        logging.getLogger(AUTHORIZER_LOGGER).addHandler(self._log_capture)
        self.apis["ManagementApi"].static_site = site_file
        sign_in = local_sign_in_config(template, self.provisioned.resolver)
        self.apis["ManagementApi"].static_rendered = functools.partial(rendered_for, sign_in=sign_in)
        self.apis["ManagementApi"].static_headers = security_headers(template, self.provisioned.resolver)
        for name, api in self.apis.items():
            self.gateways[name] = Gateway(api, self.access_log_sink())
            service = HttpService(self.gateways[name].handle, self.ports.get(name, 0)).start()
            self.services[name] = service
            self._started.append(service)

        groups = [
            self.provisioned.resolver.ref(n)
            for n in resources_of_type(template, "AWS::Scheduler::ScheduleGroup", self.provisioned.resolver)
        ]
        self.scheduler = SchedulerEmulator(boto3.client("scheduler"), groups, self.registry).start()
        self._started.append(self.scheduler)
        self.recurring = RecurringScheduler(
            recurring_schedules(self.provisioned.functions), self.registry, RECURRING_PERIOD_SECONDS
        ).start()
        self._started.append(self.recurring)
        # Webhook deliveries: the delivery function consumes its queue as Lambda's SQS event source would.
        self.queues = QueueEventSources(boto3.client("sqs"), queue_sources(self.registry, self.provisioned.resolver))
        self._started.append(self.queues.start())
        return self

    def settle_audit(self, timeout: float = 120) -> None:
        """Hand every buffered log line to the ingest, then wait until the compactor has compacted the arrival
        bucket the last of them landed in: from then on every request made so far shows in its key's audit,
        usage and last_used_at. Bounded by `timeout` seconds."""
        from archie_keys.aws.audit_blocks import arrival_bucket
        from archie_keys.edge.composition import get_services

        self.logs.flush()
        services = get_services()
        landed = arrival_bucket(time.time(), services.compactor.bucket_seconds)
        deadline = time.monotonic() + timeout
        while (services.audit_reader.compacted_through() or float("-inf")) < landed:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the audit was not compacted within {timeout} s")
            time.sleep(0.05)

    def dead_letters(self, spec: FunctionSpec, record: dict[str, Any]) -> None:
        """An asynchronous invocation that failed every attempt goes to its function's on-failure queue (in
        moto), as Lambda sends it: `make redrive` works on the local stack as on AWS."""
        arn = str(self.provisioned.resolver.resolve(spec.on_failure))
        sqs = boto3.client("sqs")
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))

    def access_log_sink(self) -> Any:
        def sink(api: LocalApi, line: str) -> None:
            if api.access_log_group:
                self.logs.put(api.access_log_group, line)

        return sink

    def connection(self) -> dict[str, str]:
        """What a client outside this process needs to reach this stack's AWS: moto's endpoint, the local
        control plane, credentials, and the functions' environment (table and secret names)."""
        return {
            **self.provisioned.environment,
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_ENDPOINT_URL_API_GATEWAY": self.control_url,
            "AWS_ENDPOINT_URL_LAMBDA": self.control_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        }

    def quiesce(self) -> None:
        """Stop background work (schedules, log deliveries) so that measurements see only what they measure."""
        self.scheduler.stop()
        self.recurring.stop()
        self.queues.stop()
        self.logs.stop()
        logging.getLogger("archie-keys.authorizer").removeHandler(self._log_capture)

    def bootstrap(self, project: str = "demo", environment: str = "dev") -> str:
        from archie_keys.app.bootstrap import bootstrap
        from archie_keys.app.commands import Place
        from archie_keys.edge.composition import get_services

        return bootstrap(get_services(), Place(project, environment)).value

    def stop(self) -> None:
        for service in reversed(self._started):
            try:
                service.stop()
            except Exception:
                logger.exception("stopping %s failed", type(service).__name__)
        self._started.clear()
        if getattr(self, "_log_capture", None) is not None:
            logging.getLogger("archie-keys.authorizer").removeHandler(self._log_capture)
        if self._saved_environ is not None:
            os.environ.clear()
            os.environ.update(self._saved_environ)
            self._saved_environ = None


def control_plane_lazy(stack: LocalStack) -> Any:
    def dispatch(request: Any) -> Any:
        return control_plane(stack.apis, stack.registry)(request)

    return dispatch
