"""The composition root's part for the audit tables: where management events go, the reader the audit
routes and the compactor use, and the ingest's watermarks. A stack without an audit table (a bootstrap run)
records no events (app.services.NoAudit)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from archie_keys.app.services import NoAudit
from archie_keys.edge.wiring import Wiring

if TYPE_CHECKING:
    from archie_keys.app.ports import EventRecorder
    from archie_keys.aws.audit_reader import AuditReader
    from archie_keys.aws.audit_writer import AuditWriter
    from archie_keys.aws.ingest_watermarks import IngestWatermarks
    from archie_keys.aws.regional_audit import RegionalAudit


class AuditWiring(Wiring):
    @cached_property
    def audit(self) -> EventRecorder:
        if not self.settings.audit_table:
            return NoAudit()
        return self.audit_writer

    @cached_property
    def audit_writer(self) -> AuditWriter:
        from archie_keys.aws.audit_writer import AuditWriter

        return AuditWriter(self.settings.audit_table, self.dynamodb, self.settings.audit_retention_days)

    @cached_property
    def audit_reader(self) -> AuditReader:
        from archie_keys.aws.audit_reader import AuditReader

        return AuditReader(self.settings.audit_table, self.dynamodb)

    @cached_property
    def regional_audit(self) -> RegionalAudit:
        """Every region's audit, this one first (the reads of `GET /audit` and usage fan out to them)."""
        from archie_keys.aws.regional_audit import RegionalAudit

        return RegionalAudit.of_stack(self.settings, self.audit_reader)

    @cached_property
    def ingest_watermarks(self) -> IngestWatermarks:
        from archie_keys.aws.ingest_watermarks import IngestWatermarks

        return IngestWatermarks(self.settings.audit_table, self.dynamodb)
