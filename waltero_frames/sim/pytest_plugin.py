"""Pytest fixtures for the bundled simulator (registered as the ``waltero_sim`` plugin).

Fixtures
--------
waltero_sim
    A running simulator (``base_url``, ``username``, ``password``, ``world``, ``config``,
    ``log``, ``counters``, ``add_correction`` …), reset before each test: knobs back to
    their session values, log/counters/rate limits cleared, runtime corrections gone.
waltero_sim_server
    The session-wide server behind it (not reset; prefer ``waltero_sim``).
waltero_sim_knobs
    Session-scoped dict of :class:`~waltero_frames.sim.SimConfig` knobs (plus ``seed``)
    the server starts with; override it in your ``conftest.py`` to change the defaults.

Examples
--------
>>> def test_me(waltero_sim):                                      # doctest: +SKIP
...     client = wf.Client(waltero_sim.base_url, waltero_sim.username, waltero_sim.password)
...     assert client.me()["user"]["email"] == waltero_sim.username

Importing this module is cheap: FastAPI and the World load only when a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def waltero_sim_knobs() -> dict[str, Any]:
    """Knobs of the session's simulator (``seed`` and any SimConfig field); override freely."""
    return {}


@pytest.fixture(scope="session")
def waltero_sim_server(waltero_sim_knobs: dict[str, Any]) -> Iterator[Any]:
    """One in-process simulator for the whole session."""
    from waltero_frames.sim.server import start

    knobs = dict(waltero_sim_knobs)
    sim = start(knobs.pop("seed", 0), **knobs)
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def waltero_sim(waltero_sim_server: Any) -> Any:
    """Return the session's simulator, reset before this test."""
    waltero_sim_server.reset()
    return waltero_sim_server
