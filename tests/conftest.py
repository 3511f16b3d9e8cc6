"""Fixtures shared by the test modules (the simulator's own come from its pytest plugin).

- ``sim``: the session's simulator, reset, with the per-token and login limits lifted
  (the limits have their own tests, which use ``waltero_sim``).
- ``make_client(**kwargs)``: a ``wf.Client`` of the session's simulator with the demo
  credentials and no progress bar; every client made is closed after the test.
- ``client``: ``make_client()`` on ``sim`` (limits lifted).
- ``world``: the seed-0 ``World`` (ground truth), one per module.
- matplotlib figures a test left open are closed after it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import waltero_frames as wf


@pytest.fixture
def sim(waltero_sim: Any) -> Any:
    """The session simulator, reset, with the per-token and login limits lifted."""
    waltero_sim.configure(rate=None, login_limit=None)
    return waltero_sim


@pytest.fixture
def make_client(waltero_sim: Any) -> Iterator[Callable[..., wf.Client]]:
    """Make clients of the session's simulator (demo user, no progress bar); closed after."""
    made: list[wf.Client] = []

    def make(**kwargs: Any) -> wf.Client:
        kwargs.setdefault("progress", False)
        client = wf.Client(
            waltero_sim.base_url, waltero_sim.username, waltero_sim.password, **kwargs
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(sim: Any, make_client: Callable[..., wf.Client]) -> wf.Client:
    """A client of the simulator with its rate and login limits lifted."""
    return make_client()


@pytest.fixture(scope="module")
def world() -> Any:
    """The seed-0 World (deterministic demo data and ground truth), one per module."""
    from waltero_frames.sim.world.model import World

    return World.for_seed(0)


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    """Close the matplotlib figures a test left open (only if it imported pyplot)."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
