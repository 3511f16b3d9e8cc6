"""``waltero-frames study info | record | verify``: studies from the command line.

- ``info PATH`` prints the manifest (each result summarized; ``--json`` for all of it).
- ``record NOTEBOOK PATH -p key value …`` executes a notebook live with papermill
  parameters into the study at PATH.
- ``verify PATH [NOTEBOOK]`` checks the study's answers against its checksum and, given a
  notebook, re-executes it offline against the study (no ``WALTERO_*`` settings reach
  the kernel). Exit status 0 when everything holds, 1 on tampering, a mismatch, a
  failing cell or a study the replay changed, 2 on bad arguments.

A notebook works with these verbs when it takes two parameters and opens its study with
them: ``study = wf.Study(study_path, params={...}, mode=study_mode)``. ``record`` passes
the ``-p`` parameters and ``study_mode="record"``; ``verify`` passes the recorded
``params`` back as parameters and ``study_mode="replay"``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add the ``study`` command and its verbs to the top-level subparsers."""
    study = commands.add_parser(
        "study",
        help="reproducible studies: info, record, verify",
        description="Reproducible studies (a folder of recorded answers, manifest, results).",
    )
    verbs = study.add_subparsers(dest="verb", required=True)
    info = verbs.add_parser("info", help="print a study's manifest")
    info.add_argument("path", help="the study folder")
    info.add_argument("--json", action="store_true", help="the whole manifest, results included")
    record = verbs.add_parser("record", help="execute a notebook live into a study")
    record.add_argument("notebook", help="a jupytext .py or .ipynb notebook")
    record.add_argument("path", help="the study folder (an existing study is replaced)")
    record.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("KEY", "VALUE"),
        help="a notebook parameter (JSON values are decoded: 10, true, null; else text)",
    )
    verify = verbs.add_parser("verify", help="check a study; replay a notebook against it")
    verify.add_argument("path", help="the study folder")
    verify.add_argument("notebook", nargs="?", help="re-execute this notebook offline")
    for parser in (record, verify):
        parser.add_argument("--timeout", type=float, default=600, help="seconds per cell")
    study.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run one ``study`` verb; return the exit status."""
    from .core import StudyIntegrityError

    verb = {"info": _info, "record": _record, "verify": _verify}[args.verb]
    try:
        return verb(args)
    except (FileNotFoundError, StudyIntegrityError, ValueError) as exc:
        print(f"waltero-frames study {args.verb}: {exc}", file=sys.stderr)
        return 1


def _info(args: argparse.Namespace) -> int:
    from .core import read_manifest
    from .results import summary

    manifest = read_manifest(args.path)
    if not args.json:
        manifest["results"] = {
            name: summary(r["value"]) + (" (informational)" if r.get("informational") else "")
            for name, r in manifest["results"].items()
        }
    print(json.dumps(manifest, indent=1, ensure_ascii=False))
    return 0


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _run_notebook(args: argparse.Namespace, path: Path, params: dict[str, Any], mode: str) -> str:
    """Execute ``args.notebook`` on the study at ``path``; return what failed ("" if nothing)."""
    from .execute import execute

    parameters = {**params, "study_path": str(path), "study_mode": mode}
    _, error = execute(args.notebook, parameters=parameters, timeout=args.timeout)
    if error is None:
        return ""
    ename, evalue = getattr(error, "ename", None), getattr(error, "evalue", None)
    return f"{ename}: {evalue}" if ename else str(error).strip().splitlines()[-1]


def _record(args: argparse.Namespace) -> int:
    from .core import read_manifest

    path = Path(args.path).resolve()
    params = {key: _value(value) for key, value in args.parameter}
    before = _manifest_bytes(path)
    failed = _run_notebook(args, path, params, "record")
    if failed:
        print(
            f"waltero-frames study record: the notebook failed, {path} keeps what it held: {failed}",
            file=sys.stderr,
        )
        return 1
    if _manifest_bytes(path) in (before, None):
        raise ValueError(
            f"{args.notebook} did not record into {path}: open the study with "
            "wf.Study(study_path, params=..., mode=study_mode)"
        )
    manifest = read_manifest(path)
    print(
        f"recorded {path}: {manifest['requests']} answers from {manifest['base_url']}, "
        f"{manifest['checksum'][:19]}…, results: {', '.join(manifest['results']) or 'none'}"
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .core import read_manifest, verified_rows
    from .execute import without_env
    from .source import version_changes

    path = Path(args.path).resolve()
    manifest = read_manifest(path)
    responses, _ = verified_rows(path, manifest)
    changed = version_changes(manifest["versions"])
    if changed:
        print(f"note: recorded with other package versions: {', '.join(changed)}")
    done = f"{len(responses)} answers match the checksum"
    if args.notebook:
        before = _folder_state(path)
        # offline: no tenant to reach, and no WALTERO_ORG or the like to change the params
        with without_env([k for k in os.environ if k.startswith("WALTERO_")]):
            failed = _run_notebook(args, path, manifest["params"], "replay")
        if failed:
            print(
                f"waltero-frames study verify: {args.notebook} does not reproduce {path}: {failed}",
                file=sys.stderr,
            )
            return 1
        if _folder_state(path) != before:
            print(f"waltero-frames study verify: the replay changed {path}", file=sys.stderr)
            return 1
        done += f"; {Path(args.notebook).name} replayed offline and reproduced its results"
    print(f"ok: {path}: {done}")
    return 0


def _manifest_bytes(path: Path) -> bytes | None:
    try:
        return (path / "manifest.json").read_bytes()
    except FileNotFoundError:
        return None


def _folder_state(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }
