"""Asking every region at once, and answering with the regions that answered in time.

A key's audit and usage live in each region's own audit table (domain.region_reads says why and how they are
put together). A management API in one region must keep answering when another region is down or slow
(issue 22: each region audits on its own), so each region is asked on a thread of its own and given a bounded
time; a region that fails or is late is named, and the answer comes with the others. Only when no region
answers does the failure stand (503, as when the one region of a single-region stack fails).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from archie_keys.domain.errors import ServiceUnavailableError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long a region is given to answer. API Gateway waits 29 s and the reading functions' timeouts are 10-15 s;
# a healthy region answers a page in well under a second, so a region this late is as good as down for this
# request (the clients' own timeouts, aws.clients, bound each call too).
REGION_ANSWER_SECONDS = 4.0


@dataclass(frozen=True)
class Gathered(Generic[T]):
    """Each region's answer, in the order asked (this region first), and the regions that gave none."""

    answers: dict[str, T]
    unavailable: list[str] = field(default_factory=list)


def gather(regions: Sequence[str], ask: Callable[[str], T], timeout: float = REGION_ANSWER_SECONDS) -> Gathered[T]:
    """`ask(region)` for every region. One region: asked directly, its failure raised as it always was. Several:
    in parallel; a region that raises or takes longer than `timeout` is unavailable; when every region is,
    the first region's failure is raised (this region's: mapped to 503 as any dependency failure is)."""
    if len(regions) == 1:
        return Gathered({regions[0]: ask(regions[0])})
    pool = ThreadPoolExecutor(max_workers=len(regions), thread_name_prefix="region")
    futures = {region: pool.submit(ask, region) for region in regions}
    wait(futures.values(), timeout=timeout)
    # A late region's thread finishes on its own (bounded by its client's timeouts); nobody waits for it.
    pool.shutdown(wait=False, cancel_futures=True)
    answers: dict[str, T] = {}
    failures: dict[str, BaseException] = {}
    for region, future in futures.items():
        if not future.done():
            failures[region] = TimeoutError(f"{region} did not answer within {timeout} s")
        elif future.exception() is not None:
            failures[region] = future.exception()  # type: ignore[assignment]
        else:
            answers[region] = future.result()
    for region, error in failures.items():
        # Whatever the failure (unreachable, throttled, refused by IAM, late), the region gave nothing this
        # request can show: it is named in the answer, and logged with its cause for the operator.
        logger.warning("region %s did not answer: %r", region, error, exc_info=error)
    if not answers:
        first = failures[regions[0]]
        if isinstance(first, TimeoutError):
            raise ServiceUnavailableError("no region's audit answered in time; retry shortly") from first
        raise first
    return Gathered(answers, [region for region in regions if region in failures])
