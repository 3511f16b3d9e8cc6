"""``connect()`` for notebooks: a client for the tenant or the bundled simulator.

Notebooks call :func:`connect` for their client, so they run the same way under
``make report`` (which sets the ``WALTERO_*`` variables) and on their own. A notebook
that is a reproducible study opens a ``wf.Study`` instead (``study.client()``), which
chooses the tenant the same way.
"""

from __future__ import annotations

from typing import Any

from ..study.source import ENV_VARS, bundled_sim, tenant_configured
from ..transport.client import Client

__all__ = ["ENV_VARS", "connect", "tenant_configured"]


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
    if tenant_configured():
        return Client(**client_kwargs), None
    sim = bundled_sim()
    return Client(sim.base_url, sim.username, sim.password, **client_kwargs), sim
