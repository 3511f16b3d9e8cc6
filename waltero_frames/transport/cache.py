"""requests-cache setup: what is cached for how long, what the key ignores, offline replay.

- Expiry per URL pattern, most specific first (the first match wins and
  ``*/api/devices/*`` would also match telemetry): login and the changelog are never
  cached; telemetry and Part 1 keep a day; listings and device details an hour.
- Keys ignore the bearer token: requests-cache's ``DEFAULT_IGNORED_PARAMS`` extended (not
  replaced) with other spellings, so the token is neither in the key nor in the stored
  request. ``Accept-Encoding`` is fixed by the client so installed codecs cannot change keys.
- Offline: only-if-cached (an expired entry is still a valid replay) and a transport
  adapter that refuses to send, so a miss can never reach the network. A replay never
  writes: the file is opened read-only (``mode=ro``, and ``immutable=1`` when no writer's
  ``-wal``/``-journal`` file is beside it), so it takes no write lock, creates no
  ``-wal``/``-shm`` file, runs no table creation and never checkpoints another writer's
  WAL into the file when it closes (the last connection to close a WAL database does
  that; a replay that was the last reader used to write the file then).
- One file per user: keys hold the URL but not the user, so two users sharing a file
  would read each other's answers. A cache file remembers who filled it and refuses
  another user.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from requests_cache import DO_NOT_CACHE, CachedSession
from requests_cache.backends import BaseCache, SQLiteCache
from requests_cache.backends.sqlite import SQLiteDict
from requests_cache.policy import ExpirationPatterns
from requests_cache.policy.settings import DEFAULT_IGNORED_PARAMS

from ..errors import CacheMiss, safe_url

__all__ = [
    "EXPIRY",
    "IGNORED_PARAMS",
    "OfflineAdapter",
    "ReadOnlySQLiteCache",
    "claim_cache_file",
    "make_session",
    "sqlite_file",
]

IGNORED_PARAMS = tuple(DEFAULT_IGNORED_PARAMS) + (
    "authorization",
    "AUTHORIZATION",
    "token",
    "password",
    "refreshToken",
    "accessToken",
)

# Most specific first: the first matching pattern wins.
EXPIRY: ExpirationPatterns = {
    "*/api/auth/login": DO_NOT_CACHE,
    "*/data-audit/changes*": DO_NOT_CACHE,
    "*/api/devices/*/telemetry*": timedelta(days=1),
    "*/device-daily-consumption*": timedelta(days=1),
    "*/api/devices/*/fields": timedelta(hours=1),
    "*/api/devices/*": timedelta(days=1),
    "*/api/organizations/*/devices*": timedelta(hours=1),
    "*/api/auth/me": timedelta(hours=1),
    "*/v1/archive*": timedelta(days=1),  # weather archive: recent days are still revised
}


class OfflineAdapter(requests.adapters.BaseAdapter):
    """A transport that never sends: any request reaching it was not in the cache."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        """Refuse to go to the network: raise ``CacheMiss``."""
        raise CacheMiss(
            f"offline: {request.method} {safe_url(request.url)} is not in the cache",
            url=request.url,
        )

    def close(self) -> None:
        """Close nothing (no connection is ever opened)."""
        pass


def _read_only_uri(path: str | os.PathLike[str]) -> str:
    """Return the SQLite URI that opens ``path`` for reading only.

    ``immutable=1`` (no locks, no ``-wal``/``-shm`` files, nothing written) when no writer
    is at work; while a ``-wal`` or ``-journal`` file sits beside the file, plain
    ``mode=ro`` instead, which still reads the writer's committed pages from the WAL but
    cannot write, so it never checkpoints them into the file.
    """
    path = Path(path).expanduser().absolute()
    busy = any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-journal"))
    return path.as_uri() + ("?mode=ro" if busy else "?mode=ro&immutable=1")


class _ReadOnlySQLiteDict(SQLiteDict):
    """One table of a requests-cache SQLite file, opened read-only (offline replay)."""

    def init_db(self) -> None:
        # requests-cache's own init_db takes a write lock and creates the tables: a replay
        # only checks that the file is a cache file
        self.close()
        with self.connection() as con:
            found = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (self.table_name,)
            ).fetchone()
        if found is None:
            raise ValueError(
                f"{str(self.db_path)!r} is not a requests-cache file (no {self.table_name!r} table)"
            )

    @contextmanager
    def connection(self, commit: bool = False) -> Iterator[sqlite3.Connection]:
        if commit:
            self._refuse_write()
        with self._lock:
            if not self._connection:
                self._connection = sqlite3.connect(
                    _read_only_uri(self.db_path),
                    uri=True,
                    isolation_level=None,
                    check_same_thread=False,  # one connection for the fetch threads, as upstream
                )
        yield self._connection

    @contextmanager
    def _acquire_sqlite_lock(self) -> Iterator[None]:
        self._refuse_write()
        yield  # pragma: no cover

    def vacuum(self) -> None:
        self._refuse_write()

    def _refuse_write(self) -> None:
        raise sqlite3.OperationalError(
            f"offline replay: the cache file {str(self.db_path)!r} is open read-only"
        )


class ReadOnlySQLiteCache(SQLiteCache):
    """A requests-cache SQLite backend that only reads its file (what an offline replay uses).

    Parameters
    ----------
    db_path : str or Path
        An existing cache file (requests-cache appends ``.sqlite`` to a name without a
        suffix, as when it was recorded).

    Raises
    ------
    ValueError
        The file holds no requests-cache tables.
    """

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        BaseCache.__init__(self, cache_name=str(db_path))
        self.responses = _ReadOnlySQLiteDict(str(db_path), table_name="responses")
        self.redirects = _ReadOnlySQLiteDict(
            str(db_path), table_name="redirects", lock=self.responses._lock, serializer=None
        )


def make_session(cache: Any, *, offline: bool) -> tuple[requests.Session, bool]:
    """Build the data session for ``cache``; return ``(session, owned)``.

    Parameters
    ----------
    cache : None, str, Path, requests_cache backend or CachedSession
        ``None`` → a plain ``requests.Session``; a path → a SQLite cache file there; a
        backend → a ``CachedSession`` on it; a ``CachedSession`` → used as given (our
        expiry rules for login/changelog and ignored parameters are merged into its
        settings; it is not closed by us).
    offline : bool
        Answer only from the cache.
    """
    if cache is None:
        if offline:
            raise ValueError("offline=True needs a cache (a path or a requests-cache backend)")
        return requests.Session(), True
    if isinstance(cache, CachedSession):
        settings = cache.settings
        settings.ignored_parameters = tuple(
            dict.fromkeys([*(settings.ignored_parameters or ()), *IGNORED_PARAMS])
        )
        never: ExpirationPatterns = {k: v for k, v in EXPIRY.items() if v is DO_NOT_CACHE}
        settings.urls_expire_after = {**never, **(settings.urls_expire_after or {})}
        session, owned = cache, False
    elif isinstance(cache, str | os.PathLike | BaseCache):
        backend: Any = cache
        # a backend object carries its own name (naming it again is deprecated)
        sqlite_only: dict[str, Any] = {}
        if not isinstance(cache, BaseCache):
            path = Path(cache).expanduser()
            if offline and not path.exists():
                raise ValueError(f"offline=True but the cache file {str(path)!r} does not exist")
            # offline: read-only, so a replay never writes into the study (no lock, no
            # table creation, no -wal file, no checkpoint when it closes)
            if offline:
                backend = ReadOnlySQLiteCache(path)
            else:
                backend = "sqlite"
                sqlite_only = {"cache_name": str(path), "wal": True}
        session = CachedSession(
            **sqlite_only,
            backend=backend,
            allowable_methods=("GET",),
            allowable_codes=(200,),
            urls_expire_after=EXPIRY,
            ignored_parameters=IGNORED_PARAMS,
            match_headers=False,
            stale_if_error=False,  # never in the live path: it would hide 401/429/500
        )
        owned = True
    else:
        raise ValueError(
            f"cache={cache!r}: expected None, a file path, a requests-cache backend or CachedSession"
        )
    if offline:
        session.settings.only_if_cached = True
        session.settings.stale_if_error = True  # offline: an expired entry is still the replay
        # nothing is sent, so no proxy/netrc/CA settings to look up in the environment on
        # every request (requests does that per call: ~15 % of a replay's time)
        session.trust_env = False
    return session, owned


def sqlite_file(session: requests.Session) -> str | None:
    """Return the SQLite file behind a cached session, else ``None``.

    A path, a ``SQLiteCache`` backend or a user's ``CachedSession`` alike.
    """
    responses = getattr(getattr(session, "cache", None), "responses", None)
    path = getattr(responses, "db_path", None)
    return None if path in (None, ":memory:") else str(path)


def claim_cache_file(
    path: str | os.PathLike[str], username: str | None, *, offline: bool = False
) -> None:
    """Record the user in a SQLite cache file, or refuse a file filled by another user.

    Keys hold the full URL, so tenants (base URLs) never collide; users of one tenant
    would. Offline clients may not know the user (``username=None``) and are not checked;
    one that knows it is checked against the recorded user, and nothing is written.

    Parameters
    ----------
    path : str or Path
        The SQLite cache file.
    username : str or None
        The client's user.
    offline : bool, default False
        Only read (the file is opened read-only): a replay never writes into the study.

    Raises
    ------
    ValueError
        The file was filled for another user.
    """
    if username is None:  # nothing to check, and a replay must not write into the study
        return
    # closing(): ``with sqlite3.connect()`` only commits, and an unclosed connection lives
    # until the cyclic GC; if it is then the last one on the WAL file, its close
    # checkpoints into the file at a random later moment (under a replay, say)
    if offline:
        with closing(sqlite3.connect(_read_only_uri(path), uri=True)) as con:
            known = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'waltero_principal'"
            ).fetchone()
            row = (
                con.execute("SELECT username FROM waltero_principal").fetchone() if known else None
            )
    else:
        with closing(sqlite3.connect(Path(path).expanduser(), timeout=30)) as con, con:
            con.execute("CREATE TABLE IF NOT EXISTS waltero_principal (username TEXT)")
            row = con.execute("SELECT username FROM waltero_principal").fetchone()
            if row is None:
                con.execute("INSERT INTO waltero_principal VALUES (?)", (username,))
    if row is not None and row[0] != username:
        raise ValueError(
            f"cache file {str(path)!r} holds answers for {row[0]!r}, not for {username!r}: "
            "use one cache file per tenant and user"
        )
