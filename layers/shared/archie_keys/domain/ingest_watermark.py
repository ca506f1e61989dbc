"""The ingest watermark: "every access-log line written up to T is in the audit", and only what can be proven.

A guarded delete must see every request answered before it arrived. The audit sees a request once its access
line is delivered and ingested, so the delete waits until the watermark has passed its own arrival time.

**What proves progress.** A line's presence proves nothing about the lines around it: a log group has many
streams, a delivery can fail and be retried (or dead-lettered and redriven hours later) while later ones
succeed, and deliveries run side by side. So the timestamps of the lines ingested never move the watermark.
It moves only on a deliverer's *attestation*, carried with a delivery: "this is delivery number `sequence` of
my `run` for `source`, and every line of the source written up to `through_ms` is in it or in an earlier
delivery of the run". A deliverer can say that when it reads a source in order (the local stack's does: it
drains each log group's buffer under a lock and numbers its deliveries, an idle group's included).

**Out of order.** The attestation of delivery n says nothing until deliveries 1..n-1 are ingested too: a
source's progress is the `through_ms` of the longest run of sequences ingested without a gap; a delivery ahead
of a gap waits in `ahead` (runs of consecutive deliveries, so it stays small) until the gap is filled (by the
retry, or the redrive of the dead letter). A redelivered sequence changes nothing, and `through_ms` never
moves back.

**Every source counts for every environment.** Any log group may carry any environment's lines (the management
API's carries them all; a protected API's stage may be re-registered), so an environment's watermark is the
least progress of every source ever attested. A source that stops attesting holds every environment's
watermark back: a guarded delete then refuses (503) rather than pass on a silent source.

Where nothing attests (CloudWatch Logs' own deliveries carry no sequence and no completeness statement),
there is no watermark at all, and a guarded delete of a key cannot be proven: it refuses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Runs of deliveries ahead of a gap kept per source. Deliveries past one gap (a delivery that failed every
# attempt and waits in the dead letters) make one run however many they are; only that many separate gaps can
# overflow it. Then the newest run is forgotten, and the source cannot pass the gap it left until its
# deliverer starts a new run: the watermark stays behind (guarded deletes refuse), it is never falsified.
MAX_GAPS = 100


@dataclass(frozen=True)
class Attestation:
    """What a deliverer states with one delivery (see the module's docstring)."""

    source: str
    run: str
    sequence: int
    through_ms: int


# (first sequence, last sequence, the latest moment any of them attests), in order, none touching another.
AheadRun = tuple[int, int, int]


@dataclass(frozen=True)
class SourceProgress:
    """How far one source is proven ingested: `through_ms` of the delivery `sequence` of `run`, every delivery
    before it ingested too; `ahead` holds the runs of attested deliveries past a gap."""

    source: str
    run: str
    sequence: int = 0
    through_ms: int = 0
    ahead: tuple[AheadRun, ...] = ()

    def with_delivery(self, attestation: Attestation) -> SourceProgress:
        """This progress once the attested delivery is ingested."""
        if attestation.run != self.run:
            # A deliverer's new run (run ids sort by their start) numbers from 1 again. What the old run proved
            # stays proven; a late delivery of an older run proves nothing more (its lines are ingested all
            # the same, and the watermark never needed them).
            if attestation.run < self.run:
                return self
            restarted = SourceProgress(self.source, attestation.run, 0, self.through_ms)
            return restarted.with_delivery(attestation)
        number = attestation.sequence
        if number <= self.sequence or any(first <= number <= last for first, last, _ in self.ahead):
            return self  # a redelivery
        ahead = _merged([*self.ahead, (number, number, attestation.through_ms)])
        sequence, through = self.sequence, self.through_ms
        while ahead and ahead[0][0] == sequence + 1:
            _, sequence, latest = ahead.pop(0)
            through = max(through, latest)
        return SourceProgress(self.source, self.run, sequence, through, tuple(ahead[:MAX_GAPS]))


def _merged(runs: list[AheadRun]) -> list[AheadRun]:
    """Runs in order, each pair that touches made one."""
    merged: list[AheadRun] = []
    for first, last, latest in sorted(runs):
        if merged and merged[-1][1] + 1 >= first:
            before = merged[-1]
            merged[-1] = (before[0], max(before[1], last), max(before[2], latest))
        else:
            merged.append((first, last, latest))
    return merged


def first_progress(attestation: Attestation) -> SourceProgress:
    """A source's progress from its first attested delivery: before it, nothing of the source is proven."""
    return SourceProgress(attestation.source, attestation.run).with_delivery(attestation)


def proven_through_ms(sources: Iterable[SourceProgress]) -> int | None:
    """Every line up to this moment (epoch ms) of every source is ingested; None when no source ever attested
    (nothing is proven). A source that has not closed its first gap holds it at 0."""
    throughs = [source.through_ms for source in sources]
    return min(throughs) if throughs else None
