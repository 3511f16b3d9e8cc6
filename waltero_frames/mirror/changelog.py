"""The changelog, page by page, for the mirror.

Each page is applied and committed on its own, so the fetch function that reads the
whole log at once (``wf.changes``) is not used.

Values keep the JSON types the API sent (a page can mix numeric fields with text ones such
as ``meta.firmware``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from ..api import endpoints as ep

__all__ = ["PAGE_LIMIT", "SyncError", "change_pages", "page_frame"]

#: Changelog page size (the API caps ``limit`` at 200).
PAGE_LIMIT = ep.CHANGES_PAGE_LIMIT


class SyncError(RuntimeError):
    """The sync cannot go on safely (e.g. changelog paging that makes no progress)."""


def page_frame(rows: list[Any]) -> pd.DataFrame:
    """Parse one changelog page into the ``changes`` layout.

    Values are kept as the API typed them (a page mixing numbers and text must not turn
    the numbers into text).
    """
    rows = [r for r in rows if isinstance(r, dict)]

    def col(key: str) -> list[Any]:
        return [r.get(key) for r in rows]

    ids = col("id")
    if any(not isinstance(i, str) for i in ids):
        raise SyncError("changelog: a row without a string 'id'")
    return pd.DataFrame(
        {
            "change_id": ids,
            "device_id": col("deviceId"),
            "field": col("field"),
            "timestamp": pd.to_datetime(col("timestamp"), format="ISO8601", utc=True),
            "previous_value": pd.Series(col("previousValue"), dtype=object),
            "new_value": pd.Series(col("newValue"), dtype=object),
            "actor": col("actor"),
            "changed_at": pd.to_datetime(col("changedAt"), format="ISO8601", utc=True),
        }
    )


def change_pages(client: Any, org: str, since: pd.Timestamp) -> Iterator[pd.DataFrame]:
    """Return the changelog since ``since`` page by page (following ``nextCursor``).

    Raises ``SyncError`` when a full page makes no progress: its cursor was seen before,
    or it holds only ids this listing already returned.
    """
    cursor: str | None = None
    cursors: set[str] = set()
    seen: set[str] = set()
    while True:
        body = ep.changes_page(client, org, since, cursor, PAGE_LIMIT)
        rows = body.get("data") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise SyncError("changelog page: expected {'data': [...], 'nextCursor': ...}")
        page = page_frame(rows)
        ids = set(page["change_id"])
        cursor = body.get("nextCursor")
        if cursor is not None and len(rows) >= PAGE_LIMIT and ids <= seen:
            raise SyncError(
                f"changelog paging made no progress: a full page of {len(rows)} rows "
                f"repeats earlier ids (since={since.isoformat()})"
            )
        seen |= ids
        yield page
        if cursor is None:
            return
        if not isinstance(cursor, str) or cursor in cursors:
            raise SyncError(f"changelog paging loops: cursor {cursor!r} came back")
        cursors.add(cursor)
