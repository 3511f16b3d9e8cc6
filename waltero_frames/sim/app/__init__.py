"""The simulator's HTTP app (FastAPI): routes, state, tokens and rate limits.

Layer: the simulator's HTTP layer, over ``sim.world``.

``common`` (errors, JSON bodies, argument parsing) → ``tokens``, ``ratelimit`` →
``state`` (one simulator's mutable state over a ``World``) → the routers ``auth``,
``data``, ``admin`` → ``app.create_app``. Imports ``sim.world`` and ``sim.config``;
shares no code with the client.
"""

from .app import create_app

__all__ = ["create_app"]
