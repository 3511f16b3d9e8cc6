"""``connect()`` and study helpers for notebooks: a client for the tenant or the bundled simulator.

Notebooks call :func:`connect` for their client, so they run the same way under
``make report`` (which sets the ``WALTERO_*`` variables) and on their own.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from ..study.source import ENV_VARS, STUDY_PACKAGES, bundled_sim, tenant_configured, versions

__all__ = ["ENV_VARS", "STUDY_PACKAGES", "connect", "study_cache", "tenant_configured", "versions"]


def connect(**client_kwargs: Any) -> tuple[Any, Any]:
    """Return a client for a notebook: the ``WALTERO_*`` tenant, else a bundled simulator.

    The simulator (``wf.sim.running()``) is started once per kernel and stopped when the
    kernel exits (the same one a :class:`~waltero_frames.Study` records from).

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
    sim = bundled_sim()
    return Client(sim.base_url, sim.username, sim.password, **client_kwargs), sim


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
