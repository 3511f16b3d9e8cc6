"""``connect()`` and study helpers for notebooks: a client for the tenant or the bundled simulator.

Notebooks call :func:`connect` for their client, so they run the same way under
``make report`` (which sets the ``WALTERO_*`` variables) and on their own.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import os
import sys
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ENV_VARS = ("WALTERO_BASE_URL", "WALTERO_USERNAME", "WALTERO_PASSWORD")

#: Versions a reproducible study records (the cache format and the numbers depend on them).
STUDY_PACKAGES = ("waltero_frames", "pandas", "numpy", "requests", "requests-cache", "urllib3")


def tenant_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Tell whether all ``WALTERO_*`` settings are present (a real or external tenant)."""
    env = os.environ if environ is None else environ
    return all(env.get(k) for k in ENV_VARS)


def connect(**client_kwargs: Any) -> tuple[Any, Any]:
    """Return a client for a notebook: the ``WALTERO_*`` tenant, else a bundled simulator.

    The simulator (``wf.sim.running()``) is started once per kernel and stopped when the
    kernel exits.

    Parameters
    ----------
    **client_kwargs
        Passed to ``wf.Client`` (``cache=``, ``progress=`` …).

    Returns
    -------
    (Client, sim or None)
        ``sim`` is the running simulator handle when this call started one (its
        ``world`` is the ground truth), else None.

    Examples
    --------
    >>> client, sim = connect(progress=False)   # doctest: +SKIP
    """
    from .. import Client

    if tenant_configured():
        return Client(**client_kwargs), None
    sim = _bundled_sim()
    return Client(sim.base_url, sim.username, sim.password, **client_kwargs), sim


_SIM: Any = None


def _bundled_sim() -> Any:
    global _SIM
    if _SIM is None:
        from .. import sim as sim_module

        stack = contextlib.ExitStack()
        _SIM = stack.enter_context(sim_module.running())
        atexit.register(stack.close)
    return _SIM


def versions(packages: Sequence[str] = STUDY_PACKAGES) -> dict[str, str]:
    """Installed versions of ``packages`` (plus Python), for a study's provenance."""
    out = {"python": sys.version.split()[0]}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def study_cache(path: str | Path) -> Any:
    """Return a requests-cache SQLite backend for a study file, zlib-compressed.

    API answers are repetitive JSON: compression keeps a month of a whole organization's
    telemetry at a couple of MB, small enough to commit. Pass it as ``wf.Client(cache=…)``.

    Examples
    --------
    >>> client = wf.Client(cache=study_cache("data/study.sqlite"), offline=True)  # doctest: +SKIP
    """
    from requests_cache import SQLiteCache
    from requests_cache.serializers import SerializerPipeline, Stage, pickle_serializer

    compressed = SerializerPipeline(
        [*pickle_serializer.stages, Stage(dumps=zlib.compress, loads=zlib.decompress)],
        name="pickle+zlib",
        is_binary=True,
    )
    return SQLiteCache(str(path), serializer=compressed)
