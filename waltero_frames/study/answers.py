"""A study's recorded API answers: requests-cache with a study serializer and a read-only replay.

Recording uses requests-cache's ``SQLiteCache`` as it is, with one difference: the
serializer. Replay does not open that file for writing at all: its rows are read once
through SQLite's ``immutable`` read-only mode into a ``BaseCache`` whose storage is a
dict of serialized rows (deserialized on access). So a replay cannot write into the
study — no table creation, no journal, no WAL switch, no expiry clean-up — whatever
other threads or processes do, and reading the rows once also gives the checksum.

The serializer (``waltero-study-1``): requests-cache's cattrs stage turns a response
into builtins, then the body bytes are kept raw next to a small JSON head and the whole
is zlib-compressed. No pickle: a study folder handed over by a colleague cannot run
code when it is read, and the JSON head can be inspected. Compression keeps a whole
organization-month at about a megabyte.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from requests_cache import SQLiteCache
from requests_cache.backends import BaseCache
from requests_cache.backends.base import BaseStorage
from requests_cache.serializers import SerializerPipeline, Stage
from requests_cache.serializers.preconf import base_stage

from ..transport.cache import _read_only_uri as read_only_uri

__all__ = ["SERIALIZER", "ReplayCache", "checksum", "read_rows", "record_backend"]

_HEAD = 4  # bytes of the JSON head's length


def _pack(response: dict[str, Any]) -> bytes:
    body = response.pop("_content", None) or b""
    head = json.dumps(response, separators=(",", ":"), sort_keys=True).encode()
    return zlib.compress(len(head).to_bytes(_HEAD, "big") + head + body)


def _unpack(blob: bytes) -> dict[str, Any]:
    raw = zlib.decompress(blob)
    n = int.from_bytes(raw[:_HEAD], "big")
    response = json.loads(raw[_HEAD : _HEAD + n])
    response["_content"] = raw[_HEAD + n :]
    return response


#: The study serializer; its name is part of every cache key (requests-cache's rule).
SERIALIZER = SerializerPipeline(
    [base_stage, Stage(dumps=_pack, loads=_unpack)], name="waltero-study-1", is_binary=True
)


def record_backend(path: str | Path) -> SQLiteCache:
    """Return the requests-cache SQLite backend a recording writes into (one new file)."""
    return SQLiteCache(str(path), serializer=SERIALIZER)


def read_rows(path: str | Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Read the ``responses`` and ``redirects`` rows of an answers file without any write.

    The transport's read-only URI (``immutable=1``: no lock, no journal, nothing written):
    a finished study is never changed in place (a new recording is a new file).
    """
    con = sqlite3.connect(read_only_uri(path), uri=True)
    try:
        responses = dict(con.execute("SELECT key, value FROM responses"))
        redirects = dict(con.execute("SELECT key, value FROM redirects"))
    finally:
        con.close()
    return responses, redirects


def checksum(responses: dict[str, bytes], redirects: dict[str, bytes]) -> str:
    """``sha256:<hex>`` of every stored answer (keys and bytes, in key order)."""
    h = hashlib.sha256()
    for table, rows in (("responses", responses), ("redirects", redirects)):
        h.update(f"{table}:{len(rows)}\n".encode())
        for key in sorted(rows):
            value = rows[key]
            value = value.encode() if isinstance(value, str) else bytes(value)
            h.update(f"{key}:{len(value)}\n".encode())
            h.update(value)
    return "sha256:" + h.hexdigest()


class _RowStorage(BaseStorage):
    """Serialized rows in memory, deserialized on access; writes never persist."""

    def __init__(self, rows: dict[str, Any], serializer: Any = None) -> None:
        super().__init__(serializer=serializer)
        self._rows = rows

    def __getitem__(self, key: str) -> Any:
        value = self._rows[key]
        return self.deserialize(key, value) if self.serializer else value

    def __setitem__(self, key: str, value: Any) -> None:
        pass  # a replay answers, it never stores (nothing here reaches the disk anyway)

    def __delitem__(self, key: str) -> None:
        pass

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


class ReplayCache(BaseCache):
    """A requests-cache backend over a study's rows, read once, never written."""

    def __init__(self, responses: dict[str, bytes], redirects: dict[str, bytes]) -> None:
        super().__init__(cache_name="study-replay")
        self.responses = _RowStorage(responses, SERIALIZER)
        self.redirects = _RowStorage({k: _text(v) for k, v in redirects.items()})


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
