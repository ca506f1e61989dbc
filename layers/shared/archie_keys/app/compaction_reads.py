"""Reading a closed arrival bucket's environment blocks in one fixed order, a batch ahead, in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import TYPE_CHECKING

from archie_keys.domain.audit_blocks import StoredBlock

if TYPE_CHECKING:
    from archie_keys.app.audit_ports import AuditReader


def blocks_in_order(reader: AuditReader, bucket: float, index_page: int, batch_size: int) -> Iterator[StoredBlock]:
    """The bucket's environment blocks in the arrival index's order (the order the compactor's chunks depend
    on): the index read a page at a time, the blocks it names `batch_size` at a time (BatchGetItem answers in
    any order; they are put back in the index's). The next batch is read while this one is used, so at most
    two batches are held."""
    refs = reader.arrivals(bucket, page_size=index_page)

    def next_batch() -> tuple[bool, list[StoredBlock]]:
        """(whether the index named any more blocks, those of them that exist, in its order)."""
        batch = list(islice(refs, batch_size))
        if not batch:
            return False, []
        found = {(block.pk, block.sk): block for block in reader.blocks(batch)}
        return True, [found[(ref.pk, ref.sk)] for ref in batch if (ref.pk, ref.sk) in found]

    # One thread reads (the index's generator is only ever advanced by it); the caller's decodes.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="compact-read") as reading:
        ahead = reading.submit(next_batch)
        more = True
        while more:
            more, batch = ahead.result()
            if more:
                ahead = reading.submit(next_batch)
            yield from batch
