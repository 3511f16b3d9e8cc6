"""The contract points the client assumes, and the probes that check them on a tenant.

Lowest layer, beside ``errors``: imports nothing of the package. Each probe lives in the
module whose code relies on its assumption (``api.parse``, ``api.paging``,
``transport.retry``, ``mirror.changelog``) and registers itself with :func:`probe`;
``waltero-frames doctor`` runs every registered probe. Adding a contract point means adding
one decorated function beside the code that assumes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["PROBES", "Answer", "Finding", "Probe", "Tenant", "differs", "ok", "probe", "unknown"]

Status = Literal["ok", "differs", "unknown"]


@dataclass(frozen=True)
class Answer:
    """One answer of the tenant, as a probe sees it (no body is ever printed)."""

    status: int
    headers: Mapping[str, str]
    body: Any  # decoded JSON, or None when the body was not JSON
    seconds: float


class Tenant(Protocol):
    """What a probe may ask of the tenant: read-only GETs and what the doctor found first."""

    org: str
    devices: list[dict[str, Any]]

    @property
    def budget(self) -> int:
        """Requests the probes may still send (the doctor's whole run stays within 50)."""
        ...

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, fresh: bool = False
    ) -> Answer:
        """GET ``path`` once; memoized per path and parameters unless ``fresh``."""
        ...


@dataclass(frozen=True)
class Finding:
    """The verdict on one contract point."""

    point: str
    status: Status
    assumed: str
    observed: str
    handling: str = ""
    handled: bool = True

    def as_dict(self) -> dict[str, Any]:
        """Return the finding as a JSON-able dict."""
        return {
            "point": self.point,
            "status": self.status,
            "assumed": self.assumed,
            "observed": self.observed,
            "handling": self.handling,
            "handled": self.handled,
        }


@dataclass(frozen=True)
class Verdict:
    """What a probe function returns; :class:`Probe` adds the point and the assumption."""

    status: Status
    observed: str
    handling: str = ""
    handled: bool = True


def ok(observed: str) -> Verdict:
    """Return the verdict "the tenant behaves as assumed"."""
    return Verdict("ok", observed)


def differs(observed: str, handling: str, *, handled: bool) -> Verdict:
    """Return the verdict "the tenant differs", with what the toolkit does about it."""
    return Verdict("differs", observed, handling, handled)


def unknown(why: str) -> Verdict:
    """Return the verdict "not observable with this account", with the reason."""
    return Verdict("unknown", why)


@dataclass(frozen=True)
class Probe:
    """One contract point and the function that checks it on a tenant."""

    point: str
    assumed: str
    order: int
    check: Callable[[Tenant], Verdict] = field(repr=False)

    def run(self, tenant: Tenant) -> Finding:
        """Check the point on ``tenant``."""
        v = self.check(tenant)
        return Finding(self.point, v.status, self.assumed, v.observed, v.handling, v.handled)


#: Every registered probe by point name (filled as the modules that hold them are imported).
PROBES: dict[str, Probe] = {}


def probe(
    point: str, assumed: str, *, order: int = 50
) -> Callable[[Callable[[Tenant], Verdict]], Callable[[Tenant], Verdict]]:
    """Register the decorated function as the probe of contract point ``point``.

    Parameters
    ----------
    point : str
        Short name of the point (a line of ``waltero-frames doctor``).
    assumed : str
        What the toolkit assumes, in one sentence.
    order : int, default 50
        Probes run in ascending order (the rate-limit probe runs last).

    Examples
    --------
    >>> @probe("example", "the tenant answers")
    ... def _check(tenant):
    ...     return ok("it did")
    >>> PROBES.pop("example").point
    'example'
    """

    def register(check: Callable[[Tenant], Verdict]) -> Callable[[Tenant], Verdict]:
        if point in PROBES:
            raise ValueError(f"contract point {point!r} has two probes")
        PROBES[point] = Probe(point, assumed, order, check)
        return check

    return register
