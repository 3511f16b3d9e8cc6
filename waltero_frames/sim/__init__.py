"""The bundled Waltero API simulator: a real HTTP server on 127.0.0.1 over a deterministic World.

Layer: beside the client, sharing no code with it (it imports nothing of the package
outside ``sim/``, and the client's packages import nothing from it; only tests, notebooks
and the study's recording use both): ``world/`` (deterministic data and ground truth) →
``config`` → ``app/`` (the HTTP app) → ``server``, ``cli``, ``pytest_plugin``.

>>> import waltero_frames as wf
>>> with wf.sim.running(seed=0) as sim:                      # doctest: +SKIP
...     client = wf.Client(sim.base_url, sim.username, sim.password)

Start it from a shell with ``waltero-sim serve``; in pytest use the ``waltero_sim``
fixture (registered as a pytest plugin). Needs the ``sim`` extra (FastAPI, uvicorn,
PyJWT, orjson).
"""

from __future__ import annotations

from .config import SimConfig
from .server import InProcessSimulator, Simulator, SubprocessSimulator, running, start
from .world.model import (
    DEFAULT_FIELDS,
    DEMO_ORG,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    HIDDEN_ORG,
    SOUTH_ORG,
    World,
)

#: The guide's example device (all four fields of the guide's telemetry example).
DEMO_DEVICE = "11111111-1111-1111-1111-111111111101"

__all__ = [
    "DEFAULT_FIELDS",
    "DEMO_DEVICE",
    "DEMO_ORG",
    "DEMO_PASSWORD",
    "DEMO_USERNAME",
    "HIDDEN_ORG",
    "SOUTH_ORG",
    "InProcessSimulator",
    "SimConfig",
    "Simulator",
    "SubprocessSimulator",
    "World",
    "running",
    "start",
]
