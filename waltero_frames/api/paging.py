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

from ..errors import UnexpectedResponse

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
            raise UnexpectedResponse("offset page: expected {'data': [...], 'meta': {...}}")
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
        yield data
        cursor = page.get("nextCursor")
        if cursor is None:
            return
        if not isinstance(cursor, str) or cursor in seen:
            raise UnexpectedResponse(f"cursor pagination loops or is malformed at {cursor!r}")
        seen.add(cursor)
    raise UnexpectedResponse(f"cursor pagination did not end after {max_pages} pages")
