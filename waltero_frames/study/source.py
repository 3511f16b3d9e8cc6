"""Where a recording comes from, and the package versions a study records.

A recording uses the ``WALTERO_*`` tenant, or the bundled simulator when none is set.

``notebook.connect()`` uses the same two functions, so a notebook and a study always
agree on which tenant is meant.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ENV_VARS",
    "STUDY_PACKAGES",
    "bundled_sim",
    "tenant_configured",
    "version_changes",
    "versions",
]

ENV_VARS = ("WALTERO_BASE_URL", "WALTERO_USERNAME", "WALTERO_PASSWORD")

#: Versions a study records (the cache format and the numbers depend on them).
STUDY_PACKAGES = ("waltero_frames", "pandas", "numpy", "requests", "requests-cache", "urllib3")


def tenant_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Tell whether all ``WALTERO_*`` settings are present (a real or external tenant)."""
    env = os.environ if environ is None else environ
    return all(env.get(k) for k in ENV_VARS)


_SIM: Any = None
_SIM_LOCK = threading.Lock()


def bundled_sim() -> Any:
    """Return the bundled simulator, started once per process on a loopback port, stopped at exit."""
    global _SIM
    with _SIM_LOCK:
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


def version_changes(recorded: Mapping[str, str]) -> list[str]:
    """List the packages whose installed version differs from ``recorded`` (``"pandas 2.2 -> 3.0"``)."""
    now = versions(tuple(k for k in recorded if k != "python"))
    return [
        f"{k} {v} -> {now.get(k, 'not installed')}"
        for k, v in sorted(recorded.items())
        if now.get(k, "not installed") != v
    ]
