"""How early an expiry's flush can start, so the function that runs it knows how long it may have to wait for
the key's second (app.expiry, app.expiry_notices) and the schedules know when to arrange it (aws.schedules).
Pure."""

from __future__ import annotations

# EventBridge Scheduler invokes a one-time schedule within the minute of its at() time.
SCHEDULER_PRECISION_SECONDS = 60
# Beyond that minute: Lambda's asynchronous queue and a cold start, before the function can wait.
LAMBDA_LEAD_SECONDS = 10
# A schedule's at() must still be ahead when it is created.
SCHEDULE_AHEAD_SECONDS = 5
# The longest the function waits for its second: a schedule fires at most 130 s early, a direct invocation
# 135 s (ExpiryFlushFunction's timeout leaves room for the flush after it).
MAX_WAIT_SECONDS = SCHEDULER_PRECISION_SECONDS * 2 + LAMBDA_LEAD_SECONDS + SCHEDULE_AHEAD_SECONDS
