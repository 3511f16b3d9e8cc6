"""``waltero-frames``: the command line, one dispatcher over the verbs of each layer.

Each command lives with its layer and registers itself here: ``sync`` (mirror/cli.py),
``study`` (study/cli.py), ``doctor`` (doctor.py). A module with ``register(subparsers)`` that sets
``run(args) -> int`` as the parser default is all a new command needs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import doctor
from .mirror import cli as mirror_cli
from .study import cli as study_cli

__all__ = ["COMMANDS", "main"]

#: The modules whose ``register`` adds a command, in the order ``--help`` lists them.
COMMANDS = (mirror_cli, study_cli, doctor)


def parser() -> argparse.ArgumentParser:
    """Build the ``waltero-frames`` argument parser with every command."""
    ap = argparse.ArgumentParser(
        prog="waltero-frames", description="waltero_frames on the command line."
    )
    commands = ap.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(commands)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``waltero-frames``; return the exit status."""
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
