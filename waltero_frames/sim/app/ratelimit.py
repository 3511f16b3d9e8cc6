"""Rate limits of the simulated gateway: a token bucket per key and a sliding window.

Both answer "how long must this caller wait" (``0.0`` = allowed, and the call is
counted). Wall-clock (monotonic) time, independent of the simulated clock.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class TokenBuckets:
    """One token bucket per key (``rate`` tokens/s, at most ``burst`` stored).

    Examples
    --------
    >>> b = TokenBuckets(clock=lambda: 0.0)
    >>> [b.take("t", rate=1.0, burst=2) for _ in range(3)]
    [0.0, 0.0, 1.0]
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._state: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated)

    def take(self, key: str, *, rate: float, burst: int) -> float:
        """Take one token for ``key``; return 0.0, or the seconds until one is available."""
        now = self._clock()
        tokens, updated = self._state.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - updated) * rate)
        if tokens >= 1.0:
            self._state[key] = (tokens - 1.0, now)
            return 0.0
        self._state[key] = (tokens, now)
        return (1.0 - tokens) / rate

    def clear(self) -> None:
        self._state.clear()


class SlidingWindow:
    """At most ``limit`` events per key within the last ``window`` seconds.

    Examples
    --------
    >>> w = SlidingWindow(window=60.0, clock=lambda: 0.0)
    >>> [w.take("u", limit=2) for _ in range(3)]
    [0.0, 0.0, 60.0]
    """

    def __init__(self, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}

    def take(self, key: str, *, limit: int) -> float:
        """Count one event for ``key``; return 0.0, or the seconds until one is allowed."""
        now = self._clock()
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= limit:
            return events[0] + self.window - now
        events.append(now)
        return 0.0

    def clear(self) -> None:
        self._events.clear()
