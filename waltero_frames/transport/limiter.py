"""A client-side request pacer shared by every thread of a client, learning from 429s.

The server's limit is not published (CONTRACT §1: "assumed" 10 req/s, burst 20), so the
pacer starts unpaced and learns: on a 429 it sets its rate just under the rate the server
granted between the last two 429 episodes (see ``on_throttle``) and holds every thread
until ``Retry-After`` has passed; each success nudges the rate up a little so a raised
limit is found again. Requests are then spaced ``1/rate`` apart: threads queue for
send slots instead of bursting into a 429 storm.

It lives in the transport adapter, so only real network sends are paced: cache hits are free.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["AdaptiveLimiter"]


class AdaptiveLimiter:
    """Paces sends at a learned rate (requests/s); ``rate=None`` means not yet limited.

    Parameters
    ----------
    rate : float, optional
        Starting rate; ``None`` sends unpaced until the first 429.
    min_rate : float
        Floor of the learned rate.
    backoff : float
        Fraction of the observed rate kept after a 429.
    growth : float
        Rate added per second of 429-free sending (probes for a raised limit).
    """

    def __init__(
        self,
        rate: float | None = None,
        *,
        min_rate: float = 0.5,
        backoff: float = 0.95,
        growth: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.min_rate = min_rate
        self.backoff = backoff
        self.growth = growth
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._gate = 0.0  # no send before this instant (Retry-After)
        self._episode_end = 0.0  # 429s before this instant belong to the same episode
        self._successes = 0
        self._last_episode: tuple[float, int] | None = None
        self._first = None  # type: float | None
        self.throttles = 0  # 429s seen
        self.episodes = 0  # distinct throttling episodes (one rate cut each)

    def acquire(self) -> float:
        """Block until this thread may send; return the seconds waited.

        A thread that slept towards its slot while a 429 arrived takes a new slot behind
        the new gate and at the new rate, instead of sending into the empty bucket.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                if self._first is None:
                    self._first = now
                slot = max(now, self._gate, self._next_slot)
                self._next_slot = slot + (1.0 / self.rate if self.rate else 0.0)
                episode = self.episodes
            if slot > now:
                self._sleep(slot - now)
                waited += slot - now
            with self._lock:
                if self.episodes == episode or self._clock() >= self._gate:
                    return waited

    def on_success(self) -> None:
        """Record a granted request."""
        with self._lock:
            self._successes += 1
            if self.rate is not None:
                # additive increase: `growth` req/s per second at the current pace
                self.rate += self.growth / self.rate

    def on_throttle(self, retry_after: float | None) -> None:
        """Record a 429: pause everyone until ``retry_after``; re-estimate the rate once per episode.

        At a 429 the server's bucket is empty. Between two episodes it was empty at both
        ends, so the successes in between are exactly what it refilled: their rate over
        that interval *is* the server's rate. The first episode only has the rate observed
        since the first send (it includes the initial burst, so it is high; the next
        episode corrects it).
        """
        with self._lock:
            now = self._clock()
            self.throttles += 1
            if retry_after is not None:
                self._gate = max(self._gate, now + retry_after)
            if now < self._episode_end:
                return
            self._episode_end = now + max(retry_after or 0.0, 1.0)
            self.episodes += 1
            if self._last_episode is not None:
                t1, n1 = self._last_episode
                observed = (self._successes - n1) / max(now - t1, 1e-3)
            else:
                observed = self._successes / max(now - (self._first or now), 1.0)
            self._last_episode = (now, self._successes)
            target = self.backoff * observed if observed > 0 else (self.rate or 2.0) / 2
            self.rate = max(self.min_rate, target)
            self._next_slot = max(self._next_slot, self._gate)
