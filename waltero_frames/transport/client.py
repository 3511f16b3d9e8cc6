"""``Client``: base URL, sessions, lazy login, retries, pacing, cache — and no leaked secrets.

One ``Client`` per (base URL, user): it owns a data session (plain or requests-cache), a
separate plain session for login (never cached), a ``TokenStore`` (single-flight
re-login), the one ``RetryPolicy`` and an ``AdaptiveLimiter`` mounted as the transport
adapter, so only real network sends are paced and cache hits are free.
"""

from __future__ import annotations

import ipaddress
import json
import os
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter

from ..errors import (
    CacheMiss,
    ServerError,
    Unauthenticated,
    UnexpectedResponse,
    WalteroError,
    safe_url,
)
from ..errors import error_from_response as _error_from_response
from .auth import Secret, TokenStore, install_log_filter
from .cache import OfflineAdapter, claim_cache_file, make_session, sqlite_file
from .limiter import AdaptiveLimiter
from .retry import TRANSIENT_ERRORS, RetryPolicy, retry_after_seconds

try:  # orjson is 2-3x faster on large telemetry bodies; json is the fallback
    import orjson

    _loads = orjson.loads
    _DecodeError: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - orjson is installed with the sim extra
    _loads = json.loads  # type: ignore[assignment]  # same call shape as orjson.loads
    _DecodeError = (ValueError,)

__all__ = ["Client", "get_public_json"]

LOGIN_PATH = "/api/auth/login"
USER_AGENT = "waltero_frames/0.1"
# Fixed so the cache key and the server's Vary handling do not depend on installed codecs.
BASE_HEADERS = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate"}


def _is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: Any) -> str:
    if not isinstance(base_url, str) or not base_url.strip():
        raise ValueError(
            "no base URL: pass base_url=... or set WALTERO_BASE_URL (e.g. 'https://<host>/prod')"
        )
    parts = urlsplit(base_url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"base_url={safe_url(base_url)!r}: expected an http(s) URL with a host")
    if parts.username or parts.password:
        raise ValueError("base_url must not carry credentials; pass username/password instead")
    if parts.query or parts.fragment:
        raise ValueError(f"base_url={base_url!r} must not carry a query or fragment")
    return base_url.strip().rstrip("/")


class _AuthPacedAdapter(HTTPAdapter):
    """The network transport: paces every real send and authenticates it.

    Sitting below the cache, it only sees cache misses: cached answers need neither a
    token nor a send slot (a fully cached study never logs in). The bearer header is added
    to a copy of the request, so the request object a cache stores never carries it. A 401
    drops that token generation (single-flight re-login) and the request is replayed once.
    """

    def __init__(self, tokens: TokenStore, limiter: AdaptiveLimiter, pool_size: int) -> None:
        super().__init__(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.tokens = tokens
        self.limiter = limiter
        self.sent = 0
        self._count_lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        for replay in (False, True):
            self.limiter.acquire()  # first: a token taken before a long wait could expire
            token, generation = self.tokens.get()
            authed = request.copy()
            authed.headers["Authorization"] = f"Bearer {token}"
            with self._count_lock:
                self.sent += 1
            response = super().send(authed, *args, **kwargs)
            response.request = request  # what gets stored/attached: no token
            if response.status_code == 429:
                self.limiter.on_throttle(retry_after_seconds(response))
            elif response.status_code < 400:
                self.limiter.on_success()
            if response.status_code != 401 or replay:
                return response
            response.close()
            self.tokens.invalidate(generation)
        return response


class Client:
    """A connection to one Waltero tenant.

    Parameters
    ----------
    base_url : str, optional
        The tenant's API root; it may carry a path (``https://host/prod``), a trailing slash
        is harmless. Default: ``WALTERO_BASE_URL``.
    username, password : str, optional
        Default: ``WALTERO_USERNAME`` / ``WALTERO_PASSWORD``. Sent only to ``https://`` or to
        a loopback ``http://`` host; never written to logs, reprs, errors or the cache.
    cache : None, str, Path, requests-cache backend or CachedSession
        ``None``: no cache. A path: a requests-cache SQLite file (use one file per tenant
        and user). Tokens and login calls are never cached.
    offline : bool, default False
        Answer only from ``cache``: no request is sent, no credentials are needed, and a
        call that is not cached raises ``CacheMiss`` naming it.
    timeout : float, default 30.0
        Seconds per request (connect and read).
    max_workers : int, default 8
        Threads for multi-device and multi-window fetches. An offline client runs them one
        after the other: its answers are local reads, so threads would only contend for
        the interpreter.
    progress : None or bool
        ``None`` shows a progress bar on multi-request fetches; ``False`` never does.
    retry : RetryPolicy, optional
        Override the retry settings (attempts and waits).
    rate : float, optional
        Starting client-side pace in requests/s (``None``: learned from the first 429).

    Raises
    ------
    ValueError
        Missing base URL or credentials (online), or credentials over plain ``http://``
        to a host that is not loopback.

    Examples
    --------
    >>> import waltero_frames as wf
    >>> with wf.sim.running() as sim:                                  # doctest: +SKIP
    ...     client = wf.Client(sim.base_url, sim.username, sim.password)
    ...     client.me()["user"]["email"]
    'analyst@example.com'
    """

    def __init__(
        self,
        base_url: str | None = None,
        username: str | None = None,
        password: str | None = None,
        *,
        cache: Any = None,
        offline: bool = False,
        timeout: float = 30.0,
        max_workers: int = 8,
        progress: bool | None = None,
        retry: RetryPolicy | None = None,
        rate: float | None = None,
    ) -> None:
        install_log_filter()
        self.base_url = _check_base_url(base_url or os.environ.get("WALTERO_BASE_URL"))
        self.username = username or os.environ.get("WALTERO_USERNAME") or None
        self._password = Secret(password or os.environ.get("WALTERO_PASSWORD") or "")
        self.offline = bool(offline)
        if not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers={max_workers!r}: expected a positive integer")
        if not (isinstance(timeout, int | float) and timeout > 0):
            raise ValueError(f"timeout={timeout!r}: expected a positive number of seconds")
        if progress not in (None, True, False):
            raise ValueError(f"progress={progress!r}: expected None, True or False")
        self.timeout = float(timeout)
        self.max_workers = max_workers
        self.progress = progress
        self.retry = retry or RetryPolicy()
        if not self.offline:
            if not self.username or not self._password.reveal():
                raise ValueError(
                    "no credentials: pass username=/password= or set WALTERO_USERNAME and "
                    "WALTERO_PASSWORD (or use offline=True with a cache)"
                )
            parts = urlsplit(self.base_url)
            if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
                raise ValueError(
                    f"refusing to send credentials over plain http to {parts.hostname!r}: "
                    "use https:// (plain http is allowed for loopback hosts only)"
                )
        self.limiter = AdaptiveLimiter(rate)
        self._tokens = TokenStore(self._login)
        self._login_session = requests.Session()
        self._session, self._owns_session = make_session(cache, offline=self.offline)
        cache_file = sqlite_file(self._session)  # a path, a backend or a session: one rule
        if cache_file is not None:
            try:
                claim_cache_file(cache_file, self.username, offline=self.offline)
            except ValueError:
                if self._owns_session:  # a session passed in is the caller's to close
                    self._session.close()
                raise
        self._adapter: requests.adapters.BaseAdapter
        if self.offline:
            self._adapter = OfflineAdapter()
        else:
            self._adapter = _AuthPacedAdapter(
                self._tokens, self.limiter, pool_size=max(10, max_workers + 2)
            )
        for prefix in ("http://", "https://"):
            self._session.mount(prefix, self._adapter)
        self._memo: dict[tuple[str, str], Any] = {}
        self._memo_lock = threading.Lock()
        #: What an offline miss names as the place it looked (a study names itself and how
        #: to re-record it).
        self.offline_source = "the cache"
        # public services (weather): a plain transport, mounted per URL when first used
        self._public_adapter = HTTPAdapter(pool_maxsize=max(10, max_workers + 2), max_retries=0)
        self._public_mounted: set[str] = set()

    # ------------------------------------------------------------------ public
    def __repr__(self) -> str:
        mode = "offline" if self.offline else "online"
        cache = type(self._session).__name__ if self.cached else None
        return (
            f"Client(base_url={self.base_url!r}, username={self.username!r}, "
            f"cache={cache!r}, {mode}, logins={self.logins})"
        )

    @property
    def cached(self) -> bool:
        """Whether responses go through a requests-cache session."""
        return hasattr(self._session, "cache")

    @property
    def logins(self) -> int:
        """How many times this client has logged in."""
        return self._tokens.logins

    @property
    def requests_sent(self) -> int:
        """Data requests that reached the network (cache hits excluded)."""
        return getattr(self._adapter, "sent", 0)

    def me(self) -> dict[str, Any]:
        """Return the ``/api/auth/me`` JSON: the user and its accessible organizations."""
        return self.get_json("/api/auth/me")

    def close(self) -> None:
        """Close the sessions this client opened (a session passed in is left open)."""
        self._login_session.close()
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getstate__(self) -> Any:
        raise TypeError("a Client holds sessions and secrets and cannot be pickled")

    # ------------------------------------------------------------------ internal API
    def url(self, path: str) -> str:
        """Return the absolute URL of an API path."""
        return self.base_url + path

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to the base URL) and return the decoded JSON.

        Online: the retry policy around one cached-or-sent GET (the transport adapter logs
        in when needed and replays once after a 401). Offline: answers from the cache or
        raises ``CacheMiss``.
        Errors raise the matching ``WalteroError`` subclass.
        """
        url = self.url(path)
        params = dict(params or {})

        def send() -> requests.Response:
            return self._send(url, params)

        try:
            # offline nothing is sent, so there is nothing to retry: no policy per answer
            response = send() if self.offline else self.retry.call(send)
        except TRANSIENT_ERRORS as exc:
            raise ServerError(
                f"connection failed on every attempt: {type(exc).__name__}", url=url
            ) from None
        return self._decode(response)

    def get_response(self, path: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        """GET ``path`` once, without the retry policy, and return the raw response.

        For diagnostics (``waltero-frames doctor``): a 429 or 500 comes back as it is
        instead of being retried or raised. Authentication works as for :meth:`get_json`.

        Examples
        --------
        >>> client.get_response("/api/auth/me").status_code  # doctest: +SKIP
        200
        """
        return self._send(self.url(path), dict(params or {}))

    def get_public_json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a public service's JSON (``url`` absolute) through this client's session.

        The answer is cached, replayed offline and recorded in a study like any other, and
        the retry policy and timeout apply; but the request never carries this tenant's
        token or cookies: it is sent by a plain transport mounted for that URL (not the
        authenticating, paced one) and prepared without the session's cookie jar.
        """
        prefix = url.split("?", 1)[0]
        if not self.offline and prefix not in self._public_mounted:
            with self._memo_lock:
                self._session.mount(prefix, self._public_adapter)
                self._public_mounted.add(prefix)
        params = dict(params or {})
        try:
            response = self.retry.call(lambda: self._send(url, params, public=True))
        except TRANSIENT_ERRORS as exc:
            raise ServerError(
                f"connection failed on every attempt: {type(exc).__name__}", url=url
            ) from None
        return self._decode(response)

    def memo(self, key: tuple[str, str], compute: Any) -> Any:
        """Per-client memo (e.g. device details): ``compute()`` once per key."""
        with self._memo_lock:
            if key in self._memo:
                return self._memo[key]
        value = compute()
        with self._memo_lock:
            return self._memo.setdefault(key, value)

    # ------------------------------------------------------------------ helpers
    def _send(
        self, url: str, params: Mapping[str, Any], *, public: bool = False
    ) -> requests.Response:
        headers = {**BASE_HEADERS, "User-Agent": USER_AGENT}
        try:
            if public:  # prepared alone: no session cookies, auth or default headers
                prepared = requests.Request("GET", url, params=params, headers=headers).prepare()
                response = self._session.send(prepared, timeout=self.timeout, allow_redirects=False)
            else:
                response = self._session.get(
                    url,
                    params=params,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
        except (*TRANSIENT_ERRORS, CacheMiss):
            raise
        except requests.RequestException as exc:  # invalid URL and the like: no secrets in it
            raise WalteroError(f"request failed: {type(exc).__name__}", url=url) from None
        if self.offline and response.status_code == 504 and getattr(response, "from_cache", False):
            # only-if-cached answers a miss with a synthetic 504: raised here, inside the
            # retry loop, so it is not mistaken for a server error and retried
            query = f"?{urlencode(params, safe=':,')}" if params else ""
            path = url[len(self.base_url) :] if url.startswith(self.base_url + "/") else url
            raise CacheMiss(f"offline: GET {path}{query} is not in {self.offline_source}", url=url)
        return response

    def _login(self) -> str:
        """POST the credentials once (retry policy applies to 429/500); return the token."""
        url = self.url(LOGIN_PATH)
        body = {"username": self.username, "password": self._password.reveal()}

        def send() -> requests.Response:
            return self._login_session.post(
                url,
                json=body,
                headers={**BASE_HEADERS, "User-Agent": USER_AGENT},
                timeout=self.timeout,
                allow_redirects=False,
            )

        try:
            response = self.retry.call(send)
        except TRANSIENT_ERRORS as exc:
            raise ServerError(f"login: connection failed: {type(exc).__name__}", url=url) from None
        if response.status_code != 200:
            err = self._error(response)
            if isinstance(err, Unauthenticated):
                raise Unauthenticated(
                    f"login refused for {self.username!r}: {err.message}", status=401, url=url
                ) from None
            raise err
        data = self._decode(response)
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise UnexpectedResponse("login: the response carries no 'token'", url=url)
        return token

    @staticmethod
    def _error(response: requests.Response) -> WalteroError:
        try:
            body = _loads(response.content)
        except _DecodeError:
            body = None
        return _error_from_response(response.status_code, body, response.url)

    @staticmethod
    def _decode(response: requests.Response) -> Any:
        if response.status_code >= 300:
            raise Client._error(response)
        try:
            return _loads(response.content)
        except _DecodeError:
            raise UnexpectedResponse(
                f"response is not JSON (HTTP {response.status_code})", url=response.url
            ) from None


def get_public_json(
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    client: Client | None = None,
    timeout: float = 30.0,
) -> Any:
    """GET a public (non-Waltero) service's JSON document; never authenticated.

    With ``client``, through its session (cache, offline replay, study) by
    :meth:`Client.get_public_json`; without, through a fresh plain session. Either way the
    one retry policy applies and errors raise the ``WalteroError`` family.
    """
    if client is not None:
        return client.get_public_json(url, params)
    policy = RetryPolicy()
    headers = {**BASE_HEADERS, "User-Agent": USER_AGENT}
    with requests.Session() as session:

        def send() -> requests.Response:
            try:
                return session.get(
                    url,
                    params=dict(params or {}),
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                )
            except TRANSIENT_ERRORS:
                raise
            except requests.RequestException as exc:
                raise WalteroError(f"request failed: {type(exc).__name__}", url=url) from None

        try:
            response = policy.call(send)
        except TRANSIENT_ERRORS as exc:
            raise ServerError(
                f"connection failed on every attempt: {type(exc).__name__}", url=url
            ) from None
        return Client._decode(response)
