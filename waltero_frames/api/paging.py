"""The one home of the API's size limits.

The 31-day window splitter, the offset pager and the cursor pager. Endpoints state
*what* to fetch; these state *how far* one call goes.

>>> [(str(a), str(b)) for a, b in split_range("2026-01-01T00:00Z", "2026-03-01T00:00Z")]
... # doctest: +NORMALIZE_WHITESPACE
[('2026-01-01 00:00:00+00:00', '2026-02-01 00:00:00+00:00'),
 ('2026-02-01 00:00:00+00:00', '2026-03-01 00:00:00+00:00')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pandas as pd

from ..contract import Tenant, Verdict, differs, ok, probe, unknown
from ..errors import UnexpectedResponse
from . import endpoints as ep

__all__ = ["MAX_WINDOW", "cursor_pages", "offset_pages", "split_range"]

#: Longest ``endDate - startDate`` the telemetry endpoint accepts (CONTRACT §4).
MAX_WINDOW = pd.Timedelta(days=31)


def split_range(
    start: Any, end: Any, max_span: pd.Timedelta = MAX_WINDOW
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Split ``[start, end)`` into consecutive half-open windows of at most ``max_span``.

    Windows share their seams (one's ``end`` is the next one's ``start``) and the API's
    ``endDate`` is exclusive, so every instant falls in exactly one window: no reading
    is fetched twice or lost.

    >>> len(split_range("2026-01-01T00:00Z", "2026-04-01T00:00Z"))  # 90 days
    3
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if end <= start:
        raise ValueError(f"end={end} must be after start={start}")
    if max_span <= pd.Timedelta(0):
        raise ValueError(f"max_span={max_span} must be positive")
    seams = [start]
    while end - seams[-1] > max_span:
        seams.append(seams[-1] + max_span)
    seams.append(end)
    return list(zip(seams[:-1], seams[1:], strict=True))


def offset_pages(
    fetch: Callable[[int, int], Mapping[str, Any]], *, limit: int = 100
) -> Iterator[list[Any]]:
    """Yield the ``data`` of every page of an offset-paged listing.

    ``fetch(limit, offset)`` returns ``{"data": [...], "meta": {"total": n, ...}}``. Paging
    stops when ``offset + len(data) >= total`` or a page comes back empty; the next offset
    follows what the server actually returned (it may cap ``limit`` lower). Items can repeat
    or shift if the list changes while paging: callers dedupe by id.
    """
    offset = 0
    while True:
        page = fetch(limit, offset)
        data = page.get("data") if isinstance(page, Mapping) else None
        meta = page.get("meta") if isinstance(page, Mapping) else None
        if not isinstance(data, list) or not isinstance(meta, Mapping):
            raise UnexpectedResponse(
                "offset page: expected {'data': [...], 'meta': {'total': n, ...}} (the contract "
                f"assumes offset paging), got keys {_keys(page)}"
            )
        total = meta.get("total")
        if not isinstance(total, int):
            raise UnexpectedResponse("offset page: meta.total is missing or not an integer")
        yield data
        offset += len(data)
        if not data or offset >= total:
            return


def cursor_pages(
    fetch: Callable[[str | None], Mapping[str, Any]], *, max_pages: int = 100_000
) -> Iterator[list[Any]]:
    """Yield the ``data`` of every page of a cursor-paged listing.

    ``fetch(cursor)`` returns ``{"data": [...], "nextCursor": str | None}``; the first call
    gets ``None``. Stops at a null cursor. A cursor that comes back twice would loop forever:
    that raises ``UnexpectedResponse`` (Singer's "loop detected in pagination"). Rows can
    repeat across pages: callers dedupe by id.
    """
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(max_pages):
        page = fetch(cursor)
        data = page.get("data") if isinstance(page, Mapping) else None
        if not isinstance(data, list):
            raise UnexpectedResponse("cursor page: expected {'data': [...], 'nextCursor': ...}")
        if "nextCursor" not in page:  # a renamed cursor read as "the end" would drop rows
            raise UnexpectedResponse(
                "cursor page: no 'nextCursor' key (the contract assumes 'nextCursor', null at "
                f"the end), got keys {_keys(page)}"
            )
        yield data
        cursor = page.get("nextCursor")
        if cursor is None:
            return
        if not isinstance(cursor, str) or cursor in seen:
            raise UnexpectedResponse(f"cursor pagination loops or is malformed at {cursor!r}")
        seen.add(cursor)
    raise UnexpectedResponse(f"cursor pagination did not end after {max_pages} pages")


def _keys(page: Any) -> list[str] | str:
    return sorted(map(str, page))[:6] if isinstance(page, Mapping) else type(page).__name__


# ---------------------------------------------------------------- contract probes
# What the pagers above assume of a tenant, checked by `waltero-frames doctor`.
_EPOCH = "1970-01-01T00:00:00.000Z"


@probe("devices_paging", "devices are offset-paged ({data, meta.total}) with limit capped at 100")
def _probe_devices_paging(tenant: Tenant) -> Verdict:
    path = ep.DEVICES.format(org=tenant.org)
    first = tenant.get(path, {"limit": 1, "offset": 0}).body
    meta = first.get("meta") if isinstance(first, Mapping) else None
    if not isinstance(meta, Mapping) or not isinstance(meta.get("total"), int):
        keys = sorted(first)[:5] if isinstance(first, Mapping) else type(first).__name__
        return differs(
            f"no meta.total in a devices page (keys {keys})",
            "wf.devices raises UnexpectedResponse ('the contract assumes offset paging')",
            handled=False,
        )
    total = meta["total"]
    second = tenant.get(path, {"limit": 1, "offset": 1}).body
    data = [first.get("data"), second.get("data") if isinstance(second, Mapping) else None]
    if total >= 2 and (
        not all(isinstance(d, list) and len(d) == 1 for d in data)
        or data[0][0].get("id") == data[1][0].get("id")
    ):
        return differs(
            "offset=1 does not give the second device",
            "wf.devices dedupes by id but may miss devices: report this tenant",
            handled=False,
        )
    if total <= ep.DEVICES_PAGE_LIMIT:
        return ok(f"offset paging; {total} devices, so the cap of 100 is not observable")
    big = tenant.get(path, {"limit": 1000, "offset": 0}).body
    got = len(big.get("data") or []) if isinstance(big, Mapping) else 0
    if got > ep.DEVICES_PAGE_LIMIT:
        return differs(
            f"limit=1000 gave {got} devices",
            "the pager follows meta.total",
            handled=True,
        )
    return ok(f"offset paging; limit=1000 gave {got} of {total} devices")


def _changes(tenant: Tenant, cursor: str | None = None) -> Any:
    params = {"since": _EPOCH, "limit": ep.CHANGES_PAGE_LIMIT}
    if cursor is not None:
        params["cursor"] = cursor
    return tenant.get(ep.CHANGES.format(org=tenant.org), params).body


@probe("changes_page_cap", "the changelog caps a page at 200 rows")
def _probe_changes_cap(tenant: Tenant) -> Verdict:
    page = _changes(tenant)
    rows = page.get("data") if isinstance(page, Mapping) else None
    if not isinstance(rows, list):
        return unknown("the changelog answered no 'data' list (see changes_cursor)")
    more = any(page.get(k) for k in page if k != "data")  # a cursor, whatever its name
    if len(rows) == ep.CHANGES_PAGE_LIMIT or not more:
        if not more and len(rows) < ep.CHANGES_PAGE_LIMIT:
            return ok(f"{len(rows)} changes in all, fewer than the cap: not observable in full")
        return ok(f"limit=200 gave {len(rows)} rows")
    return differs(
        f"limit=200 gave {len(rows)} rows with more to come",
        "the cursor is followed whatever the page size",
        handled=True,
    )


@probe("changes_cursor", "nextCursor continues the same listing; null means the end")
def _probe_changes_cursor(tenant: Tenant) -> Verdict:
    page = _changes(tenant)
    if not isinstance(page, Mapping) or not isinstance(page.get("data"), list):
        return differs(
            "no {'data': [...]} page", "wf.changes raises UnexpectedResponse", handled=False
        )
    if "nextCursor" not in page:
        return differs(
            f"no 'nextCursor' key (keys {sorted(page)[:5]})",
            "wf.changes and Mirror.sync raise UnexpectedResponse ('nextCursor')",
            handled=False,
        )
    cursor = page["nextCursor"]
    if cursor is None:
        return ok(f"one page of {len(page['data'])} changes (continuation not observable)")
    nxt = _changes(tenant, cursor)
    rows = [*page["data"], *(nxt.get("data") or [] if isinstance(nxt, Mapping) else [])]
    keys = [(str(r.get("changedAt")), str(r.get("id"))) for r in rows if isinstance(r, Mapping)]
    if keys != sorted(keys) or len({k[1] for k in keys}) != len(keys):
        return differs(
            "the second page does not continue the first in (changedAt, id) order",
            "rows are deduped by id and ordered after paging",
            handled=True,
        )
    return ok(f"the cursor continued the listing ({len(rows)} rows over 2 pages)")
