"""The simulator's deterministic world: demo data, ground truth and Part 1 computation.

Layer: the simulator's data layer, under ``sim.app``; imports nothing outside
``sim.world``.

Pure numpy/pandas, no HTTP: ``generate`` (organizations, devices, parameters) →
``readings`` and ``anomalies`` (the series) → ``part1`` and ``telemetry`` (what the API
answers) → ``model.World`` (the object the app and the tests use); ``describe`` documents it.
Shares no code with the client.
"""

from .model import (
    DEFAULT_FIELDS,
    DEMO_ORG,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    HIDDEN_ORG,
    SOUTH_ORG,
    World,
)

__all__ = [
    "DEFAULT_FIELDS",
    "DEMO_ORG",
    "DEMO_PASSWORD",
    "DEMO_USERNAME",
    "HIDDEN_ORG",
    "SOUTH_ORG",
    "World",
]
