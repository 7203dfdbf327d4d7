"""When to ping, when to post: the Live Metrics state machine, as a pure object over a clock.

The rules are the Java agent's and the Rust exporter's (README, "Live Metrics"; the official
Python distro differs, see there):

* pinging: every 5 s, or every ``x-ms-qps-service-polling-interval-hint`` ms when the service
  gives one;
* a ping answered ``subscribed: true`` switches to posting, every 1 s;
* a post answered ``subscribed: false`` returns to pinging at once (no grace period);
* posts failing for 20 s: back to pinging, the next ping 60 s later;
* pings failing for 60 s: one ping every 60 s until one succeeds.

``next_delay`` is called once per ping or post with its answer and the time it was sent, and
returns how long to wait before the next one; ``posting`` says which one that is.
"""

from __future__ import annotations

from typing import Optional

from ai_core.live_metrics.protocol import LiveAnswer

PING_INTERVAL_S = 5.0
POST_INTERVAL_S = 1.0
POST_GIVE_UP_S = 20.0
PING_GIVE_UP_S = 60.0
BACK_OFF_S = 60.0
# A polling hint outside this range is a service bug, not a reason to ping 100 times a second.
_HINT_RANGE_S = (1.0, 600.0)


class LiveSchedule:
    """Ping/post state and timing. Not thread-safe: one Live Metrics thread drives it."""

    def __init__(self, now: float) -> None:
        self.posting = False
        self.polling_hint_s: Optional[float] = None
        self._last_success = now  # failures are counted from the start (or the last success)

    @property
    def ping_interval_s(self) -> float:
        return self.polling_hint_s if self.polling_hint_s is not None else PING_INTERVAL_S

    def next_delay(self, answer: LiveAnswer, sent_at: float) -> float:
        """Apply ``answer`` to the ping or post sent at ``sent_at``; seconds until the next call."""
        if answer.ok:
            self._last_success = sent_at
            if answer.polling_hint_s is not None and not self.posting:
                low, high = _HINT_RANGE_S
                self.polling_hint_s = min(max(answer.polling_hint_s, low), high)
            if answer.subscribed:
                self.posting = True
                return POST_INTERVAL_S
            self.posting = False
            return self.ping_interval_s
        failing_for = sent_at - self._last_success
        if self.posting:
            if failing_for >= POST_GIVE_UP_S:
                self.posting = False
                self._last_success = sent_at  # the 60 s ping rule counts from here
                return BACK_OFF_S
            return POST_INTERVAL_S
        if failing_for >= PING_GIVE_UP_S:
            return BACK_OFF_S
        return self.ping_interval_s
