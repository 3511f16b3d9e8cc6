"""The simulator's behaviour knobs (`SimConfig`).

Every knob can be passed to :func:`waltero_frames.sim.running` and changed while the
server runs (``sim.config.rate = None`` or ``sim.configure(rate=None)``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .world.model import _ts

#: Contract assumptions the simulator can break (the ``deviations`` knob), each as a real
#: tenant might: name → what the simulator then does.
DEVIATIONS: dict[str, str] = {
    "part1_wrapped": "Part 1 answers {'data': [rows]} instead of a bare array",
    "no_retry_after": "a 429 carries no Retry-After header",
    "changes_cap_100": "the changelog caps a page at 100 rows instead of 200",
    "cursor_renamed": "the changelog names its cursor 'next_cursor' instead of 'nextCursor'",
    "telemetry_merged": "telemetry answers one series 'values' of {ts, <field>: value, ...}",
    "devices_cursor": "devices are paged by cursor ({'data', 'nextCursor'}) instead of offset",
}


@dataclass
class SimConfig:
    """Behaviour knobs of the simulated Waltero API.

    Parameters
    ----------
    token_ttl : float
        Lifetime of issued tokens in seconds (the JWT's ``exp`` is wall-clock time).
    rate : float or None
        Requests per second allowed per token (token bucket); ``None`` lifts the limit.
    burst : int
        Bucket size of the per-token limit.
    login_limit : int or None
        Logins per username per (wall-clock) minute; ``None`` lifts the limit.
    retry_after_header : bool
        Whether a 429 carries ``Retry-After: <integer seconds>``.
    latency : float
        Seconds added to every API request before it is answered.
    fail : list of dict
        Fault rules ``{"status": 500 | "drop", "path": regex, "times": n}``; the first
        rule whose ``path`` regex matches (``re.search`` on the API path, prefix
        stripped) fires and its ``times`` is counted down (``None``/absent = forever).
        ``"drop"`` cuts the connection after the status line, without a complete
        response. An optional ``"method"`` restricts a rule to one HTTP method.
    replication_lag : float
        Upper bound in seconds on how long a change stays invisible after its
        ``changedAt``; ``0`` makes every change visible at once.
    clock : str or None
        ``None``: the simulated clock is frozen at the end of the demo data. An ISO
        instant: the clock starts there and runs on at ``speed``.
    speed : float
        Simulated seconds per wall-clock second when ``clock`` is set (0 holds it still).
    prefix : str
        Base path the API is served under (e.g. ``"/prod"``); ``""`` serves at the root.
    deviations : list of str
        Contract assumptions to break, the way a real tenant might (names in
        :data:`DEVIATIONS`); ``[]`` follows the contract everywhere. ``waltero-frames
        doctor`` is tested against each one.

    Examples
    --------
    >>> cfg = SimConfig(rate=None)
    >>> cfg.update(latency=0.05).latency
    0.05
    """

    token_ttl: float = 86400.0
    rate: float | None = 10.0
    burst: int = 20
    login_limit: int | None = 5
    retry_after_header: bool = True
    latency: float = 0.0
    fail: list[dict[str, Any]] = field(default_factory=list)
    replication_lag: float = 300.0
    clock: str | None = None
    speed: float = 1.0
    prefix: str = ""
    deviations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()
        object.__setattr__(self, "_ready", True)

    def __setattr__(self, name: str, value: Any) -> None:
        # `sim.config.fail = [...]` must be checked and normalised like `update(fail=...)`:
        # an unchecked rule would otherwise crash the server on its first request.
        if getattr(self, "_ready", False) and name in self.knobs():
            value = getattr(dataclasses.replace(self, **{name: value}), name)
        object.__setattr__(self, name, value)

    @classmethod
    def knobs(cls) -> tuple[str, ...]:
        """Names of every knob."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def update(self, **knobs: Any) -> SimConfig:
        """Set several knobs at once, validating them first (all or nothing)."""
        unknown = sorted(set(knobs) - set(self.knobs()))
        if unknown:
            raise ValueError(f"unknown simulator knob(s): {', '.join(unknown)}")
        trial = dataclasses.replace(self, **knobs)  # runs validate()
        for name in knobs:
            setattr(self, name, getattr(trial, name))
        return self

    def to_dict(self) -> dict[str, Any]:
        """Return the knobs as a JSON-able dict."""
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad knob; normalises a few in place."""
        _positive("token_ttl", self.token_ttl)
        if self.rate is not None:
            _positive("rate", self.rate)
        if isinstance(self.burst, bool) or not isinstance(self.burst, int) or self.burst < 1:
            raise ValueError(f"burst must be an integer >= 1, got {self.burst!r}")
        if self.login_limit is not None and (
            isinstance(self.login_limit, bool)
            or not isinstance(self.login_limit, int)
            or self.login_limit < 1
        ):
            raise ValueError(
                f"login_limit must be None or an integer >= 1, got {self.login_limit!r}"
            )
        if not isinstance(self.retry_after_header, bool):
            raise ValueError(f"retry_after_header must be a bool, got {self.retry_after_header!r}")
        _non_negative("latency", self.latency)
        _non_negative("replication_lag", self.replication_lag)
        _non_negative("speed", self.speed)
        self.fail = [validate_fault(rule) for rule in (self.fail or [])]
        if self.clock is not None:
            self.clock = _iso_instant(self.clock)
        if not isinstance(self.prefix, str) or (self.prefix and not self.prefix.startswith("/")):
            raise ValueError(f"prefix must be '' or a path starting with '/', got {self.prefix!r}")
        self.prefix = self.prefix.rstrip("/")
        if isinstance(self.deviations, str) or not isinstance(self.deviations, list | tuple):
            raise ValueError(f"deviations must be a list of names, got {self.deviations!r}")
        unknown = [d for d in self.deviations if d not in DEVIATIONS]
        if unknown:
            raise ValueError(
                f"unknown deviation(s) {unknown}; known: {', '.join(sorted(DEVIATIONS))}"
            )
        self.deviations = list(dict.fromkeys(self.deviations))


def validate_fault(rule: Any) -> dict[str, Any]:
    """Check one fault rule and return a normalised copy."""
    if not isinstance(rule, dict):
        raise ValueError(f"a fault rule must be a dict, got {rule!r}")
    extra = set(rule) - {"status", "path", "times", "method"}
    if extra:
        raise ValueError(f"unknown fault rule key(s) {sorted(extra)} in {rule!r}")
    status = rule.get("status", 500)
    if status not in (500, "drop"):
        raise ValueError(f"fault status must be 500 or 'drop', got {status!r}")
    path = rule.get("path", ".*")
    try:
        re.compile(path)
    except (re.error, TypeError) as exc:
        raise ValueError(f"fault path is not a regular expression: {path!r} ({exc})") from exc
    times = rule.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
        raise ValueError(f"fault times must be None or an integer >= 0, got {times!r}")
    method = rule.get("method")
    if method is not None and not isinstance(method, str):
        raise ValueError(f"fault method must be a string, got {method!r}")
    out: dict[str, Any] = {"status": status, "path": path, "times": times}
    if method is not None:
        out["method"] = method.upper()
    return out


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")


def _non_negative(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")


def _iso_instant(value: Any) -> str:
    ts = _ts(value, "clock", naive_utc=False)
    return ts.isoformat().replace("+00:00", "Z")
