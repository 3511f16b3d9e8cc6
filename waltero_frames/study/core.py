"""``wf.Study``: one folder that records a study's API answers and results, and replays them.

Folder layout (movable, zippable; every name inside is relative)::

    <study>/manifest.json              the study: name, params, orgs, base_url, recorded_at,
                                       versions, requests, checksum, answers, results
    <study>/answers-<stamp>.sqlite     the recorded answers (requests-cache SQLite, see answers.py)

``manifest.json`` is the commit point: a recording writes a new answers file, then
replaces the manifest in one ``os.replace``; only then is the previous answers file
removed. Until that moment the earlier study is intact and replays; a recording that
never completes leaves it untouched.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import json
import os
import re
import secrets
import sys
import threading
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from requests_cache import DO_NOT_CACHE, NEVER_EXPIRE, CachedSession

from ..errors import safe_url
from ..transport.cache import IGNORED_PARAMS
from ..transport.client import Client
from . import answers as _answers
from .results import differences, encode
from .source import bundled_sim, tenant_configured, version_changes, versions

__all__ = ["Study", "StudyIntegrityError", "StudyMismatch", "StudyWarning"]

MANIFEST = "manifest.json"
FORMAT = 1
MODES = ("auto", "record", "replay")
#: Answers a study records: data and the errors a notebook may handle (not 401/429/5xx,
#: which depend on the token or the moment).
RECORDED_CODES = (200, 400, 403, 404)
_ORG = re.compile(r"/api/organizations/([^/?#]+)")


class StudyMismatch(AssertionError):
    """A replayed result differs from the one the study recorded."""


class StudyIntegrityError(Exception):
    """A study folder that cannot be trusted: answers changed, files missing, bad manifest."""


class StudyWarning(UserWarning):
    """Other package versions than at recording, or an informational result that differs."""


def _session(backend: Any) -> CachedSession:
    """Open a requests-cache session on a study backend.

    Everything but login is kept for good, the changelog included (a study holds the
    changelog as it answered when recorded).
    """
    session = CachedSession(
        backend=backend,
        allowable_methods=("GET",),
        allowable_codes=RECORDED_CODES,
        expire_after=NEVER_EXPIRE,
        urls_expire_after={"*/api/auth/login": DO_NOT_CACHE, "*/data-audit/changes*": NEVER_EXPIRE},
        ignored_parameters=IGNORED_PARAMS,
        match_headers=False,
        stale_if_error=False,
        autoclose=False,  # the study closes its backend once, after every client
    )
    return session


def _json_params(params: Any) -> dict[str, Any] | None:
    if params is None:
        return None
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise ValueError(f"params={params!r}: expected a dict with string keys")
    try:
        return json.loads(json.dumps(dict(params)))
    except (TypeError, ValueError):
        raise ValueError(
            f"params={params!r}: values must be JSON data (str, numbers, lists…)"
        ) from None


class Study:
    """A reproducible study: one folder holding the API answers, a manifest and the results.

    In ``"record"`` mode :meth:`client` talks to the ``WALTERO_*`` tenant (or the bundled
    simulator when none is configured) and every answer is kept; in ``"replay"`` mode it
    answers from the folder only: no request, no credentials, no write. A recording
    becomes the study when it completes: :meth:`close`, the end of a ``with`` block
    without an exception, or the interpreter's exit (in a notebook kernel: only when the
    last cell that ran succeeded). Until then the folder keeps the study it held.

    Parameters
    ----------
    path : str or Path
        The study folder; its name is the study's name.
    params : dict, optional
        The parameters the study was run with (JSON data), stored in the manifest. A
        replay with other ``params`` than recorded raises ``ValueError``.
    mode : {"auto", "record", "replay"}, default "auto"
        ``"auto"`` replays when the folder holds a study, else records. Recording over
        an existing study needs ``"record"``; it replaces the study atomically.

    Attributes
    ----------
    mode : str
        ``"record"`` or ``"replay"``: the mode in force.
    path : Path
    name : str

    Raises
    ------
    ValueError
        Unknown ``mode``, ``params`` that are not JSON data or differ from the recorded ones.
    FileNotFoundError
        ``mode="replay"`` and no study at ``path``.
    StudyIntegrityError
        Replay of a folder whose answers do not match the manifest's checksum, or whose
        files are missing or unreadable.

    Warns
    -----
    StudyWarning
        Replay with other package versions than recorded (one warning listing them).

    Examples
    --------
    >>> study = wf.Study("studies/2026-11-demo", params={"month": "2026-11"})  # doctest: +SKIP
    >>> client = study.client(progress=False)                                 # doctest: +SKIP
    >>> totals = wf.daily_consumption(client, org, "2026-11-01", "2026-12-01")  # doctest: +SKIP
    >>> study.check("totals", totals)                                          # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        params: Mapping[str, Any] | None = None,
        mode: str = "auto",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode={mode!r}: expected one of {', '.join(map(repr, MODES))}")
        if not isinstance(path, str | os.PathLike) or not str(path).strip():
            raise ValueError(f"path={path!r}: expected a folder path")
        self.path = Path(path).expanduser()
        self.name = self.path.resolve().name
        self._params = _json_params(params)
        self._lock = threading.Lock()
        self._closed = False
        self._sessions: list[requests.Session] = []
        exists = (self.path / MANIFEST).is_file()
        if mode == "replay" and not exists:
            raise FileNotFoundError(
                f"no study at {str(self.path)!r} ({MANIFEST} missing): record it first "
                "(mode='auto' or 'record')"
            )
        self.mode = "replay" if mode == "replay" or (mode == "auto" and exists) else "record"
        if self.mode == "replay":
            self._open_replay()
        else:
            self._start_record()

    # ------------------------------------------------------------------ public
    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"Study({str(self.path)!r}, mode={self.mode!r}, {state})"

    def footer(self) -> str:
        """Describe the study in one line: name, when and where recorded, package versions.

        A notebook that displays the study shows this line (``_repr_markdown_``); the
        report job ends a report's HTML with it.
        """
        m = self._manifest
        how = "replayed offline" if self.mode == "replay" else "recorded live"
        count = "" if m["requests"] is None else f", {m['requests']} answers"
        used = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        return (
            f"Study {m['name']} ({how}): recorded {m['recorded_at']} from "
            f"{m['base_url']}{count}; package versions: {used}."
        )

    def _repr_markdown_(self) -> str:
        return f"*{self.footer()}*"

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest as a dict (a copy). While recording: what is known so far."""
        return copy.deepcopy(self._manifest)

    def client(self, **client_kwargs: Any) -> Client:
        """Return a ``wf.Client`` bound to this study.

        Parameters
        ----------
        **client_kwargs
            Passed to ``wf.Client`` (``progress=``, ``max_workers=`` …). While recording,
            ``base_url``/``username``/``password`` choose the tenant (default: the
            ``WALTERO_*`` settings, else the bundled simulator); a replay ignores them.

        Returns
        -------
        Client
            Record mode: a live client whose answers the study keeps. Replay mode: an
            offline client answering from the study; a call it did not record raises
            ``CacheMiss`` naming the call and how to re-record.

        Raises
        ------
        ValueError
            ``cache=`` or ``offline=`` given (the study decides), or the study is closed,
            or a second client for another tenant while recording.
        """
        for key in ("cache", "offline"):
            if key in client_kwargs:
                raise ValueError(f"{key}= is set by the study; pass other Client arguments only")
        with self._lock:
            self._check_open()
            if self.mode == "replay":
                for key in ("base_url", "username", "password"):
                    client_kwargs.pop(key, None)
                session = _session(self._replay)
                client = Client(
                    self._manifest["base_url"], cache=session, offline=True, **client_kwargs
                )
                client.offline_source = (
                    f"study {str(self.path)!r} (recorded {self._manifest['recorded_at']}); "
                    f"re-record it with wf.Study({str(self.path)!r}, mode='record') or "
                    "`waltero-frames study record NOTEBOOK PATH`"
                )
            else:
                if not client_kwargs.get("base_url") and not tenant_configured():
                    sim = bundled_sim()
                    client_kwargs.update(
                        base_url=sim.base_url, username=sim.username, password=sim.password
                    )
                session = _session(self._backend)
                try:
                    client = Client(cache=session, **client_kwargs)
                except BaseException:
                    requests.Session.close(session)
                    raise
                base_url = safe_url(client.base_url)
                if self._manifest["base_url"] not in (None, base_url):
                    requests.Session.close(session)
                    raise ValueError(
                        f"study {self.name!r} records {self._manifest['base_url']!r}; "
                        f"a client for {base_url!r} belongs in another study"
                    )
                self._manifest["base_url"] = base_url
            self._sessions.append(session)
            return client

    def check(self, name: str, value: Any, *, informational: bool = False) -> None:
        """Register a result (record mode) or compare it with the recorded one (replay mode).

        Parameters
        ----------
        name : str
            The result's name in the study.
        value : DataFrame, Series, scalar or dict
            Compared exactly: values, dtypes, index and columns.
        informational : bool, default False
            For results that depend on tunable rules (anomaly counts …): a difference is
            one ``StudyWarning`` naming the result and the difference, not an error.

        Raises
        ------
        StudyMismatch
            Replay: the value differs from the recorded one (the message names the result
            and the first differing cells), or no result of that name was recorded.
        ValueError
            An empty name, a value of another type, or the study is closed.

        Examples
        --------
        >>> study.check("totals", totals)                          # doctest: +SKIP
        >>> study.check("anomalies", counts, informational=True)   # doctest: +SKIP
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name={name!r}: expected a non-empty string")
        encoded = encode(value, f"result {name!r}")
        with self._lock:
            self._check_open()
            if self.mode == "record":
                self._manifest["results"][name] = {
                    "informational": bool(informational),
                    "value": encoded,
                }
                return
            recorded = self._manifest["results"].get(name)
        if recorded is None:
            known = ", ".join(map(repr, self._manifest["results"])) or "none"
            raise StudyMismatch(
                f"study {self.name!r} recorded no result named {name!r} (recorded: {known}); "
                f"re-record it with mode='record' to add it"
            )
        diffs = differences(recorded["value"], encoded)
        if not diffs:
            return
        message = f"study {self.name!r}: result {name!r} differs from the recording: " + "; ".join(
            diffs
        )
        if informational or recorded.get("informational"):
            warnings.warn(message, StudyWarning, stacklevel=2)
        else:
            raise StudyMismatch(message)

    def close(self) -> None:
        """Complete the study: a recording becomes the study in the folder (atomically).

        Clients handed out are closed. Replay: nothing is written. Calling it again is
        harmless.
        """
        self._finish(keep=True)

    def abort(self) -> None:
        """Drop a recording in progress: the folder keeps the study it held before."""
        self._finish(keep=False)

    def _finish(self, *, keep: bool) -> None:
        """Close once: clients closed; a recording committed (``keep``) or dropped."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            atexit.unregister(self._at_exit)
            self._close_sessions()
            if self.mode != "record":
                return
            if keep:
                self._commit()
            else:
                (self.path / self._answers_name).unlink(missing_ok=True)

    def __enter__(self) -> Study:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # ------------------------------------------------------------------ replay
    def _open_replay(self) -> None:
        manifest = read_manifest(self.path)
        if self._params is not None and self._params != manifest["params"]:
            raise ValueError(
                f"study {self.name!r} was recorded with params={manifest['params']!r}, not "
                f"{self._params!r}: use another folder, or mode='record' to replace it"
            )
        responses, redirects = verified_rows(self.path, manifest)
        changed = version_changes(manifest["versions"])
        if changed:
            warnings.warn(
                f"study {self.name!r} was recorded with other package versions: "
                + ", ".join(changed),
                StudyWarning,
                stacklevel=3,
            )
        self._manifest = manifest
        self._replay = _answers.ReplayCache(responses, redirects)

    # ------------------------------------------------------------------ record
    def _start_record(self) -> None:
        now = datetime.now(UTC)
        self.path.mkdir(parents=True, exist_ok=True)
        self._answers_name = f"answers-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}.sqlite"
        self._backend = _answers.record_backend(self.path / self._answers_name)
        self._manifest = {
            "format": FORMAT,
            "name": self.name,
            "params": self._params or {},
            "orgs": [],
            "base_url": None,
            "recorded_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "versions": versions(),
            "requests": None,
            "checksum": None,
            "answers": self._answers_name,
            "results": {},
        }
        atexit.register(self._at_exit)
        # In a notebook kernel the recording completes at the kernel's exit only if the
        # last cell ran: a notebook that stopped on an error leaves the earlier study.
        self._last_cell_failed = False
        self._ipython = _ipython()
        if self._ipython is not None:
            self._ipython.events.register("post_run_cell", self._after_cell)

    def _after_cell(self, result: Any) -> None:
        self._last_cell_failed = not result.success

    def _at_exit(self) -> None:
        if self._last_cell_failed:
            self.abort()
            return
        try:
            self.close()
        except Exception as exc:  # pragma: no cover - nothing to raise to at exit
            warnings.warn(
                f"study {self.name!r} could not be completed: {exc}", StudyWarning, stacklevel=1
            )

    def _commit(self) -> None:
        self._backend.close()
        responses, redirects = _answers.read_rows(self.path / self._answers_name)
        urls = [_answers.SERIALIZER.loads(v).url for v in responses.values()]
        self._manifest.update(
            orgs=sorted({m.group(1) for u in urls if (m := _ORG.search(u))}),
            requests=len(responses),
            checksum=_answers.checksum(responses, redirects),
        )
        target = self.path / MANIFEST
        previous = None
        if target.is_file():
            try:
                previous = json.loads(target.read_text(encoding="utf-8")).get("answers")
            except (ValueError, OSError):
                previous = None
        tmp = self.path / f".{MANIFEST}.{self._answers_name}.tmp"
        tmp.write_text(json.dumps(self._manifest, indent=1, ensure_ascii=False) + "\n", "utf-8")
        os.replace(tmp, target)  # the commit point
        if previous and previous != self._answers_name and "/" not in previous:
            (self.path / previous).unlink(missing_ok=True)

    # ------------------------------------------------------------------ helpers
    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"study {self.name!r} is closed")

    def _close_sessions(self) -> None:
        ipython = getattr(self, "_ipython", None)
        if ipython is not None:
            with contextlib.suppress(ValueError):
                ipython.events.unregister("post_run_cell", self._after_cell)
        for session in self._sessions:
            requests.Session.close(session)  # the HTTP side; the backend is closed once
        self._sessions.clear()


def _ipython() -> Any:
    """Return the running IPython shell, if any (a notebook kernel)."""
    module = sys.modules.get("IPython")
    return module.get_ipython() if module is not None else None


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the manifest of the study at ``path``.

    Raises
    ------
    FileNotFoundError
        No study there.
    StudyIntegrityError
        A manifest that is not JSON, lacks keys, or was written by a newer format.
    """
    file = Path(path) / MANIFEST
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no study at {str(path)!r} ({MANIFEST} missing)") from None
    except ValueError as exc:
        raise StudyIntegrityError(f"study {str(path)!r}: {MANIFEST} is not JSON ({exc})") from None
    required = ("name", "params", "orgs", "base_url", "recorded_at", "versions", "requests")
    missing = [k for k in (*required, "checksum", "answers", "results") if k not in manifest]
    if missing:
        raise StudyIntegrityError(f"study {str(path)!r}: {MANIFEST} lacks {', '.join(missing)}")
    if manifest.get("format", 1) > FORMAT:
        raise StudyIntegrityError(
            f"study {str(path)!r} has format {manifest['format']}: recorded by a newer "
            "waltero_frames, upgrade to replay it"
        )
    return manifest


def verified_rows(
    path: str | os.PathLike[str], manifest: dict[str, Any]
) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Read the study's answer rows and check them against the manifest's checksum.

    Raises
    ------
    StudyIntegrityError
        The answers file is missing or unreadable, or its content does not match.
    """
    name = manifest["answers"]
    file = Path(path) / name
    if "/" in name or "\\" in name or not file.is_file():
        raise StudyIntegrityError(
            f"study {str(path)!r}: the answers file {name!r} named by {MANIFEST} is missing"
        )
    try:
        responses, redirects = _answers.read_rows(file)
    except Exception as exc:
        raise StudyIntegrityError(
            f"study {str(path)!r}: the answers file {name!r} is unreadable ({exc})"
        ) from None
    found = _answers.checksum(responses, redirects)
    if found != manifest["checksum"] or len(responses) != manifest["requests"]:
        raise StudyIntegrityError(
            f"study {str(path)!r}: the recorded answers do not match the manifest "
            f"({len(responses)} answers, checksum {found[:19]}…; the manifest says "
            f"{manifest['requests']}, {str(manifest['checksum'])[:19]}…): they were changed "
            "after recording. Re-record the study (mode='record') or restore it"
        )
    return responses, redirects
