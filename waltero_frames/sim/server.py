"""Starting the simulator: in this process (a uvicorn thread) or in a subprocess.

>>> import waltero_frames as wf
>>> with wf.sim.running(seed=0, rate=None) as sim:          # doctest: +SKIP
...     sim.base_url                                          # 'http://127.0.0.1:40123'

Both kinds of handle have the same API (:class:`Simulator`); the subprocess one drives
the server through its ``/_sim/...`` admin endpoints. Both listen on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

from .config import SimConfig

HOST = "127.0.0.1"
_START_TIMEOUT = 120.0


def bind_socket(port: int = 0) -> socket.socket:
    """Return a listening TCP socket on 127.0.0.1 (``port=0``: an ephemeral port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def make_server(app: Any) -> Any:
    """Return a uvicorn server for ``app`` that shuts down cleanly on SIGINT/SIGTERM."""
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn re-raises the signal after a graceful shutdown; we want exit code 0.
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            sigs = (signal.SIGINT, signal.SIGTERM)
            previous = {s: signal.signal(s, self.handle_exit) for s in sigs}
            try:
                yield
            finally:
                for s, handler in previous.items():
                    signal.signal(s, handler)

    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=2,
    )
    return _Server(config)


class Simulator:
    """Handle of a running simulator (see ``docs/architecture.md``, "Simulator interfaces").

    Attributes
    ----------
    base_url : str
        ``http://127.0.0.1:PORT`` plus the configured prefix, no trailing slash.
    username, password : str
        The demo credentials.
    """

    def __init__(self, port: int, seed: int) -> None:
        from .world.model import DEMO_PASSWORD, DEMO_USERNAME

        self.port = port
        self.seed = seed
        self.username = DEMO_USERNAME
        self.password = DEMO_PASSWORD

    def __repr__(self) -> str:  # no password here
        return f"<{type(self).__name__} {self.base_url} seed={self.seed}>"

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (admin endpoints live here, whatever the prefix)."""
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """Base URL of the API (root URL plus the configured prefix)."""
        return self.root_url + self.config.prefix

    def url(self, path: str) -> str:
        """``base_url`` joined with an API path such as ``/api/auth/me``."""
        return self.base_url + "/" + path.lstrip("/")

    def configure(self, **knobs: Any) -> SimConfig:
        """Change several knobs at once (validated; ``ValueError`` names a bad one)."""
        raise NotImplementedError

    # Overridden below: config, world, log, counters, reset, add_correction, stop.
    @property
    def config(self) -> Any:
        """Live knobs of the simulator."""
        raise NotImplementedError

    def stop(self) -> None:
        """Shut the server down."""
        raise NotImplementedError

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class InProcessSimulator(Simulator):
    """uvicorn on a background thread of this process."""

    def __init__(self, seed: int = 0, *, port: int = 0, **knobs: Any) -> None:
        from .app.app import create_app
        from .world.model import World

        config = SimConfig().update(**knobs)
        app, self._state = create_app(World.for_seed(seed), config)
        sock = bind_socket(port)
        super().__init__(sock.getsockname()[1], seed)
        self._server = make_server(app)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="waltero-sim", daemon=True
        )
        self._sock = sock
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError("the simulator did not start")
            time.sleep(0.005)

    @property
    def config(self) -> SimConfig:
        """Live knobs of the running simulator."""
        return self._state.config

    @property
    def world(self) -> Any:
        """Ground truth of the running simulator (its clock synced first)."""
        self._state.sync_clock()  # `sim.config.clock = …` takes effect before any request
        return self._state.world

    @property
    def log(self) -> list[dict[str, Any]]:
        """Request records (no secrets)."""
        return self._state.log

    @property
    def counters(self) -> Counter:
        """Request counts keyed by (route name, status)."""
        return self._state.counters

    def configure(self, **knobs: Any) -> SimConfig:
        """Change knobs (validated, all or nothing); return the config."""
        self._state.config.update(**knobs)
        self._state.sync_clock()
        return self._state.config

    def reset(self) -> None:
        """Knobs back to their start values; log, counters, limits, runtime corrections cleared."""
        self._state.reset()

    def add_correction(
        self,
        device_id: str,
        field: str,
        timestamp: Any,
        new_value: Any,
        *,
        actor: str = "user",
        changed_at: Any = None,
        lag: float = 0.0,
    ) -> Any:
        """Correct one reading now (see ``World.add_change``); returns the new change rows.

        The change is listed by the changelog ``lag`` seconds after ``changed_at``
        (default: the simulated now). A frozen clock (the default) never reaches that
        instant, so a lagged change stays invisible until the clock runs on
        (``configure(clock=..., speed=...)``) or ``changed_at`` is set ``lag`` earlier.
        """
        return self._state.add_correction(
            device_id, field, timestamp, new_value, actor=actor, changed_at=changed_at, lag=lag
        )

    def stop(self) -> None:
        """Shut the server down (idempotent)."""
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(timeout=15)
        self._sock.close()


class _RemoteConfig:
    """``sim.config`` of a subprocess server: reads and writes go through ``/_sim/config``."""

    def __init__(self, sim: SubprocessSimulator) -> None:
        object.__setattr__(self, "_sim", sim)

    def __getattr__(self, name: str) -> Any:
        values = self._sim._admin("GET", "/_sim/config")
        if name == "to_dict":
            return lambda: values
        if name not in values:
            raise AttributeError(name)
        return values[name]

    def __setattr__(self, name: str, value: Any) -> None:
        self._sim.configure(**{name: value})

    def update(self, **knobs: Any) -> _RemoteConfig:
        self._sim.configure(**knobs)
        return self

    def __repr__(self) -> str:
        return f"SimConfig(remote, {self._sim._admin('GET', '/_sim/config')})"


class SubprocessSimulator(Simulator):
    """``waltero-sim serve`` in a child process (for benchmarks: no shared GIL)."""

    def __init__(self, seed: int = 0, *, port: int = 0, **knobs: Any) -> None:
        SimConfig().update(**knobs)  # validate here, with a clear ValueError
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the child
        cmd = [
            sys.executable,
            "-m",
            "waltero_frames.sim.cli",
            "serve",
            "--port",
            str(port),
            "--seed",
            str(seed),
            "--exit-with-parent",
            str(os.getpid()),
            "--config-json",
            json.dumps(knobs),
        ]
        self._proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        out = self._proc.stdout
        assert out is not None  # stdout=PIPE
        lines = [out.readline() for _ in range(3)]
        if not all(line.startswith("WALTERO_") for line in lines):
            self._proc.kill()
            self._proc.wait()
            self._stderr.seek(0)
            err = self._stderr.read().decode(errors="replace")[-2000:]
            self._stderr.close()
            raise RuntimeError(f"the simulator subprocess did not start: {err}")
        env = dict(line.strip().split("=", 1) for line in lines)
        port_ = int(env["WALTERO_BASE_URL"].split(":")[2].split("/")[0])
        super().__init__(port_, seed)
        self._world: Any = None
        self._clock: tuple = (None, 1.0)
        self._corrections: list[tuple[tuple, dict]] = []
        self._admin("GET", "/_sim/health")

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body, default=str).encode()
        req = urllib.request.Request(
            self.root_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}")
            raise ValueError(detail.get("message", str(exc))) from None

    @property
    def config(self) -> Any:
        """Live knobs of the simulator process."""
        return _RemoteConfig(self)

    @property
    def world(self) -> Any:
        """A local World of the same seed with the same runtime corrections (ground truth)."""
        if self._world is None:
            from .world.model import World

            self._world = World.for_seed(self.seed)
            for args, kw in self._corrections:
                self._world.add_change(*args, **kw)
        cfg = self.config.to_dict()
        if (cfg["clock"], cfg["speed"]) != self._clock:
            self._world.set_clock(cfg["clock"], speed=cfg["speed"])
            self._clock = (cfg["clock"], cfg["speed"])
        return self._world

    @property
    def log(self) -> list[dict[str, Any]]:
        """Request records of the simulator process (no secrets)."""
        return self._admin("GET", "/_sim/log")["log"]

    @property
    def counters(self) -> Counter:
        """Request counts keyed by (route name, status)."""
        rows = self._admin("GET", "/_sim/log")["counters"]
        return Counter({(route, status): n for route, status, n in rows})

    def configure(self, **knobs: Any) -> Any:
        """Change knobs (validated, all or nothing); return the config."""
        self._admin("POST", "/_sim/config", knobs)
        return self.config

    def reset(self) -> None:
        """Restore the start knobs, clear logs and counters, drop corrections."""
        self._admin("POST", "/_sim/reset", {})
        self._corrections.clear()
        self._world = None
        self._clock = (None, 1.0)

    def add_correction(
        self,
        device_id: str,
        field: str,
        timestamp: Any,
        new_value: Any,
        *,
        actor: str = "user",
        changed_at: Any = None,
        lag: float = 0.0,
    ) -> Any:
        """Correct one reading in the server (and in the local ground-truth World)."""
        import pandas as pd

        if changed_at is None:  # pin the server's "now" so the local World agrees
            changed_at = pd.Timestamp(
                self._admin("GET", "/_sim/now")["now_ms"], unit="ms", tz="UTC"
            ).isoformat()
        kw = {"actor": actor, "changed_at": changed_at, "lag": lag}
        out = self._admin(
            "POST",
            "/_sim/corrections",
            {
                "device_id": device_id,
                "field": field,
                "timestamp": timestamp,
                "new_value": new_value,
                **kw,
            },
        )
        self._corrections.append(((device_id, field, timestamp, new_value), kw))
        if self._world is not None:
            self._world.add_change(device_id, field, timestamp, new_value, **kw)
        return out["result"]

    def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after 10 s); idempotent."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()
        self._stderr.close()


def start(seed: int = 0, *, process: bool = False, port: int = 0, **knobs: Any) -> Simulator:
    """Start a simulator and return its handle; call ``.stop()`` (or prefer :func:`running`).

    Takes the arguments of :func:`running`. Useful where a ``with`` block does not fit,
    e.g. a notebook that keeps the server across cells.

    Examples
    --------
    >>> sim = start(seed=0, rate=None)                       # doctest: +SKIP
    >>> sim.base_url                                          # doctest: +SKIP
    'http://127.0.0.1:40123'
    >>> sim.stop()                                            # doctest: +SKIP
    """
    cls = SubprocessSimulator if process else InProcessSimulator
    return cls(seed, port=port, **knobs)


@contextlib.contextmanager
def running(
    seed: int = 0, *, process: bool = False, port: int = 0, **knobs: Any
) -> Iterator[Simulator]:
    """Run the simulated Waltero API on 127.0.0.1 for the duration of a ``with`` block.

    Parameters
    ----------
    seed : int
        Seed of the demo data (the World); equal seeds give equal data.
    process : bool
        ``False``: uvicorn on a background thread of this process. ``True``: a child
        process (benchmarks; the server does not share the client's GIL).
    port : int
        ``0`` (default) picks a free ephemeral port.
    **knobs
        Any :class:`SimConfig` field, e.g. ``rate=None``, ``token_ttl=1``,
        ``fail=[{"status": 500, "path": "/telemetry", "times": 1}]``, ``prefix="/prod"``.

    Yields
    ------
    Simulator
        ``base_url``, ``username``, ``password``, ``world``, ``config``, ``log``,
        ``counters``, ``configure()``, ``reset()``, ``add_correction()``.

    Raises
    ------
    ValueError
        An unknown knob or a bad value (before anything starts).

    Examples
    --------
    >>> import requests
    >>> with running(rate=None) as sim:                      # doctest: +SKIP
    ...     tok = requests.post(sim.url("/api/auth/login"),
    ...                         json={"username": sim.username, "password": sim.password}
    ...                         ).json()["token"]
    """
    sim = start(seed, process=process, port=port, **knobs)
    try:
        yield sim
    finally:
        sim.stop()
