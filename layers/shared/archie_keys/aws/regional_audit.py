"""Every region's audit table, each read with a client of its own region.

The audit table is regional (template.yaml: `AuditTable`, an `AWS::DynamoDB::Table` in each region's stack,
not replicated), and CloudFormation names it: `<stack>-AuditTable-<random>`, different in each region. So
another region's table name is found once per process, from that region's stack of the same name
(DescribeStackResource of `AuditTable`; every region's stack has the stack's name: docs/regions.md), unless
AUDIT_TABLES names it (the local stack, whose tables are named by their logical id). A lookup that fails is
not remembered: the region is unavailable for this request only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from archie_keys.aws.audit_reader import AuditReader
from archie_keys.aws.clients import new_client
from archie_keys.domain.region_reads import parse_region_map

# The template's logical id of the audit table, the same in every region's stack.
AUDIT_TABLE_RESOURCE = "AuditTable"

ClientFor = Callable[[str, str], Any]  # (service, region) -> a boto3 client of that region


class StackSettings(Protocol):
    """What of edge.settings.Settings the regions' audit needs."""

    @property
    def regions(self) -> tuple[str, ...]: ...
    @property
    def aws_client_profile(self) -> str: ...
    @property
    def stack_name(self) -> str: ...
    @property
    def audit_tables(self) -> str: ...
    @property
    def region_endpoints(self) -> str: ...


class RegionalAudit:
    """This region's audit reader, and another region's built on first use (its client and table name)."""

    def __init__(
        self,
        regions: Sequence[str],
        own: AuditReader,
        client_for: ClientFor,
        stack_name: str,
        table_names: Mapping[str, str] | None = None,
    ) -> None:
        self.regions = tuple(regions)
        self._readers: dict[str, AuditReader] = {self.regions[0]: own}
        self._client_for = client_for
        self._stack_name = stack_name
        self._table_names = dict(table_names or {})
        self._lock = threading.Lock()

    @classmethod
    def of_stack(cls, settings: StackSettings, own: AuditReader) -> RegionalAudit:
        """The stack's regions (edge.settings), this region's reader, clients of its profile (aws.clients)."""
        endpoints = parse_region_map(settings.region_endpoints)

        def client_for(service: str, region: str) -> Any:
            return new_client(service, settings.aws_client_profile, region, endpoints.get(region))

        tables = parse_region_map(settings.audit_tables)
        return cls(settings.regions, own, client_for, settings.stack_name, tables)

    def reader(self, region: str) -> AuditReader:
        with self._lock:
            known = self._readers.get(region)
        if known is not None:
            return known
        made = AuditReader(self._table_name(region), self._client_for("dynamodb", region))
        with self._lock:
            return self._readers.setdefault(region, made)

    def _table_name(self, region: str) -> str:
        if region in self._table_names:
            return self._table_names[region]
        cloudformation = self._client_for("cloudformation", region)
        detail = cloudformation.describe_stack_resource(
            StackName=self._stack_name, LogicalResourceId=AUDIT_TABLE_RESOURCE
        )["StackResourceDetail"]
        name = str(detail["PhysicalResourceId"])
        with self._lock:
            self._table_names[region] = name
        return name
