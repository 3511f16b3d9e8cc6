"""``waltero-sim serve``: run the simulated Waltero API until interrupted.

The first three lines on stdout are ``WALTERO_BASE_URL=…``, ``WALTERO_USERNAME=…`` and
``WALTERO_PASSWORD=…`` (flushed at once), so ``eval "$(waltero-sim serve | head -3)"``
style set-ups and ``.env`` files can take them. SIGINT/SIGTERM stop it with exit code 0.

Examples
--------
$ waltero-sim serve --port 8765 --seed 0 --rate none --prefix /prod
WALTERO_BASE_URL=http://127.0.0.1:8765/prod
WALTERO_USERNAME=analyst@example.com
WALTERO_PASSWORD=waltero-demo
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any


def _limit(text: str) -> float | None:
    return None if text.lower() in ("none", "off") else float(text)


def _int_limit(text: str) -> int | None:
    return None if text.lower() in ("none", "off") else int(text)


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535 (0 = any free port), got {port}")
    return port


def parser() -> argparse.ArgumentParser:
    """Return the ``waltero-sim`` argument parser."""
    ap = argparse.ArgumentParser(
        prog="waltero-sim", description="The bundled Waltero API simulator."
    )
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the simulated API on 127.0.0.1 until interrupted")
    s.add_argument("--port", type=_port, default=8765, help="TCP port (0 = any free port)")
    s.add_argument("--seed", type=int, default=0, help="seed of the demo data")
    knob: dict[str, Any] = {
        "default": argparse.SUPPRESS
    }  # only knobs given on the command line are set
    s.add_argument("--clock", **knob, help="ISO instant the simulated clock starts at (runs on)")
    s.add_argument("--speed", type=float, **knob, help="simulated seconds per wall second")
    s.add_argument("--rate", type=_limit, **knob, help="requests/s per token ('none' lifts it)")
    s.add_argument("--burst", type=int, **knob, help="burst of the per-token limit")
    s.add_argument(
        "--login-limit",
        type=_int_limit,
        **knob,
        help="logins per username per minute ('none' lifts it)",
    )
    s.add_argument("--token-ttl", type=float, **knob, help="token lifetime in seconds")
    s.add_argument("--latency", type=float, **knob, help="seconds added to every request")
    s.add_argument(
        "--replication-lag", type=float, **knob, help="max seconds a change stays invisible"
    )
    s.add_argument(
        "--no-retry-after",
        dest="retry_after_header",
        action="store_false",
        **knob,
        help="answer 429 without Retry-After",
    )
    s.add_argument("--prefix", **knob, help="serve under a base path, e.g. /prod")
    s.add_argument("--config-json", default="{}", help="any SimConfig knobs as a JSON object")
    s.add_argument("--exit-with-parent", type=int, metavar="PID", help=argparse.SUPPRESS)
    return ap


def knobs_from(args: argparse.Namespace) -> dict[str, Any]:
    """Knobs of ``--config-json`` overridden by the options given explicitly."""
    from .config import SimConfig

    try:
        knobs: dict[str, Any] = json.loads(args.config_json)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--config-json is not JSON ({exc}): {args.config_json!r}") from None
    if not isinstance(knobs, dict):
        raise ValueError("--config-json must be a JSON object")
    unknown = sorted(set(knobs) - set(SimConfig.knobs()))
    if unknown:
        raise ValueError(f"unknown knob(s) {unknown}; known: {sorted(SimConfig.knobs())}")
    knobs.update({k: v for k, v in vars(args).items() if k in SimConfig.knobs()})
    return knobs


def _watch_parent(pid: int, server: Any) -> None:
    """Stop serving when the process that started us is gone (no orphaned servers)."""

    def watch() -> None:
        while not server.should_exit:
            if os.getppid() != pid:
                server.should_exit = True
                return
            time.sleep(0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve(args: argparse.Namespace) -> int:
    """Serve the simulator until interrupted; return the exit code."""
    from .app.app import create_app
    from .config import SimConfig
    from .server import HOST, bind_socket, make_server
    from .world.model import DEMO_PASSWORD, DEMO_USERNAME, World

    try:
        config = SimConfig(**knobs_from(args))
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        print(f"waltero-sim: {exc}", file=sys.stderr)
        return 2
    app, _ = create_app(World.for_seed(args.seed), config)
    try:
        sock = bind_socket(args.port)
    except OSError as exc:
        print(f"waltero-sim: cannot listen on {HOST}:{args.port}: {exc}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    # The socket already listens: clients that read these lines can connect at once.
    sys.stdout.write(
        f"WALTERO_BASE_URL=http://{HOST}:{port}{config.prefix}\n"
        f"WALTERO_USERNAME={DEMO_USERNAME}\n"
        f"WALTERO_PASSWORD={DEMO_PASSWORD}\n"
    )
    sys.stdout.flush()
    server = make_server(app)
    if args.exit_with_parent:
        _watch_parent(args.exit_with_parent, server)
    server.run(sockets=[sock])
    sock.close()
    print("waltero-sim: stopped", file=sys.stderr, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``waltero-sim`` command line; return the exit code."""
    args = parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":
    raise SystemExit(main())
