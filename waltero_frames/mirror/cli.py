r"""``waltero-frames sync``: one mirror sync, for a cron job.

Credentials come from ``WALTERO_BASE_URL``, ``WALTERO_USERNAME`` and ``WALTERO_PASSWORD``
(never from the command line, so they stay out of shell history and ``ps``). Prints one
summary line on success (exit 0); on failure one line on stderr and exit status 1
(2 for bad arguments). Nothing printed ever contains the password or a token.

Examples
--------
$ WALTERO_BASE_URL=… WALTERO_USERNAME=… WALTERO_PASSWORD=… \
      waltero-frames sync --org 00000000-0000-0000-0000-000000000001 --db mirror.sqlite
sync org=00000000-… readings_added=1234 values_added=4180 changes_applied=2 conflicts=0 \
    watermark=… windows=48 devices=48 in 3.2s

``readings_added`` counts (device, timestamp) rows, ``values_added`` the field values.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from ..transport.client import Client
from .sync import Mirror

__all__ = ["main", "register", "run"]

_BEARER = re.compile(r"(?i)(bearer\s+|token[\"'=:\s]+)[A-Za-z0-9._~+/=-]+")


def _redact(text: str) -> str:
    """Remove the password and anything token-like from a message (defence in depth)."""
    secret = os.environ.get("WALTERO_PASSWORD")
    if secret:
        text = text.replace(secret, "***")
    return _BEARER.sub(lambda m: m.group(1) + "***", text)


def register(commands: Any) -> None:
    """Add the ``sync`` command to the top-level subparsers (``waltero_frames.cli``)."""
    sync = commands.add_parser(
        "sync",
        help="backfill/refresh readings and apply every change since the last sync",
        description="Credentials: WALTERO_BASE_URL, WALTERO_USERNAME, WALTERO_PASSWORD.",
    )
    sync.add_argument("--org", required=True, help="organization id")
    sync.add_argument("--db", required=True, help="the mirror's SQLite file")
    sync.add_argument("--start", help="range start (ISO; first sync default: end - 365 days)")
    sync.add_argument("--end", help="range end, exclusive (ISO; default: now)")
    sync.add_argument("--tz", default="UTC", help="zone of naive --start/--end (default UTC)")
    sync.add_argument(
        "--lookback",
        default="10min",
        help="changelog re-read before the watermark (>= the 5 min replication lag)",
    )
    sync.add_argument("--max-workers", type=int, default=8, help="concurrent devices")
    sync.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run one mirror sync from parsed arguments; return the exit status."""
    try:
        with (
            Client(progress=False, max_workers=args.max_workers) as client,
            Mirror(args.db) as mirror,
        ):
            report = mirror.sync(
                client,
                args.org,
                args.start,
                args.end,
                lookback=args.lookback,
                tz=args.tz,
                max_workers=args.max_workers,
            )
    except KeyboardInterrupt:
        print("waltero-frames sync: interrupted (the next sync resumes)", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for cron's mail, never a traceback with locals
        print(_redact(f"waltero-frames sync failed: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return 1
    print(_redact(str(report)), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``waltero-frames`` (the console script of installs made before ``waltero_frames.cli``)."""
    from ..cli import main as dispatch

    return dispatch(argv)
