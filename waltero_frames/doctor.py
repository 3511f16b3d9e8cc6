r"""``waltero-frames doctor``: check a tenant against the contract the toolkit assumes.

Top layer (beside the mirror and the studies): imports the modules that hold the probes
(``api.parse``, ``api.paging``, ``transport.retry``, ``mirror.changelog``) and runs every
probe registered in :mod:`waltero_frames.contract` with a small, read-only set of calls
(at most 50 requests; the rate-limit probe stops at the first 429). Prints one line per
contract point: ``ok``, ``differs`` (what we assumed, what the tenant did, what the toolkit
does about it) or ``unknown`` (not observable, and why); then latency, organizations and
their device counts, and the toolkit's versions. Exit status 1 when a point differs in a
way the toolkit does not handle, 2 when the tenant cannot be reached or logged into, else
0. ``--json`` prints one JSON document instead. Nothing printed holds a token, a password
or a response body. How to read it: ``docs/doctor.md``.

Examples
--------
$ WALTERO_BASE_URL=… WALTERO_USERNAME=… WALTERO_PASSWORD=… waltero-frames doctor
$ waltero-frames doctor --base-url https://tenant.example/prod --username me@example.com
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import statistics
import sys
import time
from collections.abc import Mapping
from typing import Any

import requests

from .api import endpoints as ep
from .api import paging as _paging  # noqa: F401  (registers its probes)
from .api import parse as _parse  # noqa: F401  (registers its probes)
from .contract import PROBES, Answer, Finding
from .errors import WalteroError
from .mirror import changelog as _changelog  # noqa: F401  (registers its probe)
from .study.source import versions
from .transport import retry as _retry  # noqa: F401  (registers its probe)
from .transport.client import Client

__all__ = ["MAX_REQUESTS", "Tenant", "diagnose", "main", "register", "run"]

#: The most requests one doctor run sends, login included.
MAX_REQUESTS = 50


class Tenant:
    """What the probes see of the tenant: counted, memoized, read-only GETs."""

    def __init__(self, client: Client, org: str, devices: list[dict[str, Any]]) -> None:
        self.client = client
        self.org = org
        self.devices = devices
        self.seconds: list[float] = []
        self._memo: dict[tuple[str, str], Answer] = {}

    @property
    def budget(self) -> int:
        """Requests left within :data:`MAX_REQUESTS` (the login counts)."""
        return MAX_REQUESTS - self.client.requests_sent - self.client.logins

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, fresh: bool = False
    ) -> Answer:
        """GET ``path`` once (memoized per path and parameters unless ``fresh``)."""
        key = (path, json.dumps(dict(params or {}), sort_keys=True))
        if not fresh and key in self._memo:
            return self._memo[key]
        if self.budget <= 0:
            raise RuntimeError(f"the doctor's budget of {MAX_REQUESTS} requests is spent")
        t0 = time.perf_counter()
        response = self.client.get_response(path, params)
        seconds = time.perf_counter() - t0
        if not fresh:
            self.seconds.append(seconds)
        try:
            body = response.json()
        except ValueError:
            body = None
        answer = Answer(response.status_code, dict(response.headers), body, seconds)
        self._memo[key] = answer
        return answer


def _organizations(tenant_client: Client, tenant: Tenant) -> list[dict[str, Any]]:
    me = tenant.get(ep.ME).body
    orgs = me.get("accessible_organizations") if isinstance(me, Mapping) else None
    out = []
    for org in orgs if isinstance(orgs, list) else []:
        if not isinstance(org, Mapping) or not isinstance(org.get("organization_id"), str):
            continue
        page = tenant.get(
            ep.DEVICES.format(org=org["organization_id"]),
            {"limit": ep.DEVICES_PAGE_LIMIT, "offset": 0},
        ).body
        meta = page.get("meta") if isinstance(page, Mapping) else None
        total = meta.get("total") if isinstance(meta, Mapping) else None
        rows = page.get("data") if isinstance(page, Mapping) else None
        out.append(
            {
                "organization_id": org["organization_id"],
                "name": org.get("name"),
                "timezone": org.get("timezone"),
                "devices": total if isinstance(total, int) else None,
                "_rows": [r for r in rows or [] if isinstance(r, Mapping) and "id" in r],
            }
        )
    return out


def diagnose(client: Client, *, org: str | None = None) -> dict[str, Any]:
    """Run every contract probe against the tenant behind ``client``.

    Parameters
    ----------
    client : Client
        An online client (its credentials are used for one login).
    org : str, optional
        The organization to probe (default: the first one the account can read).

    Returns
    -------
    dict
        ``points`` (one dict per contract point: point, status, assumed, observed,
        handling, handled), ``organizations`` (id, name, timezone, devices), ``latency_ms``
        (median and max of the probes' calls), ``requests``, ``versions`` and ``exit``.

    Examples
    --------
    >>> with wf.sim.running() as sim:                               # doctest: +SKIP
    ...     report = diagnose(wf.Client(sim.base_url, sim.username, sim.password))
    >>> report["exit"]                                              # doctest: +SKIP
    0
    """
    tenant = Tenant(client, org or "", [])
    orgs = _organizations(client, tenant)
    chosen = next((o for o in orgs if org in (None, o["organization_id"])), None)
    if chosen is not None:
        tenant.org, tenant.devices = chosen["organization_id"], chosen["_rows"]
    findings: list[Finding] = []
    for p in sorted(PROBES.values(), key=lambda p: (p.order, p.point)):
        if chosen is None and p.point != "organizations":
            findings.append(Finding(p.point, "unknown", p.assumed, "no readable organization"))
            continue
        findings.append(p.run(tenant))
    unhandled = any(f.status == "differs" and not f.handled for f in findings)
    return {
        "base_url": client.base_url,
        "organization": tenant.org or None,
        "points": [f.as_dict() for f in findings],
        "organizations": [{k: v for k, v in o.items() if k != "_rows"} for o in orgs],
        "latency_ms": {
            "median": round(statistics.median(tenant.seconds) * 1000, 1),
            "max": round(max(tenant.seconds) * 1000, 1),
        }
        if tenant.seconds
        else None,
        "requests": client.requests_sent + client.logins,
        "versions": versions(),
        "exit": 1 if unhandled else 0,
    }


def _text(report: Mapping[str, Any]) -> str:
    lines = [f"waltero-frames doctor: {report['base_url']} (organization {report['organization']})"]
    width = max(len(p["point"]) for p in report["points"])
    for p in report["points"]:
        line = f"  {p['status']:8} {p['point']:{width}}  {p['observed']}"
        if p["status"] == "differs":
            line += f"\n  {'':8} {'':{width}}  assumed: {p['assumed']}"
            verdict = "handled" if p["handled"] else "NOT HANDLED"
            line += f"\n  {'':8} {'':{width}}  {verdict}: {p['handling']}"
        lines.append(line)
    lat = report["latency_ms"]
    if lat:
        lines.append(f"latency: median {lat['median']} ms, max {lat['max']} ms")
    for o in report["organizations"]:
        n = o["devices"] if o["devices"] is not None else "?"
        lines.append(
            f"organization {o['organization_id']} {o['name']!r} ({o['timezone']}): {n} devices"
        )
    lines.append(f"requests sent: {report['requests']}")
    lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    return "\n".join(lines)


def register(commands: Any) -> None:
    """Add the ``doctor`` command to the top-level subparsers (``waltero_frames.cli``)."""
    doctor = commands.add_parser(
        "doctor",
        help="check a tenant against the API contract the toolkit assumes",
        description="Credentials: WALTERO_* settings, or --base-url/--username and a prompt.",
    )
    doctor.add_argument("--base-url", help="the tenant's API root (default WALTERO_BASE_URL)")
    doctor.add_argument("--username", help="default WALTERO_USERNAME")
    doctor.add_argument("--org", help="organization to probe (default: the first readable)")
    doctor.add_argument("--json", action="store_true", help="one JSON document on stdout")
    doctor.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``waltero-frames doctor``; return the exit status."""
    base_url = args.base_url or os.environ.get("WALTERO_BASE_URL")
    username = args.username or os.environ.get("WALTERO_USERNAME")
    password = os.environ.get("WALTERO_PASSWORD")
    if not password and base_url and username and sys.stdin.isatty():
        password = getpass.getpass(f"password for {username}: ")
    try:
        with Client(base_url, username, password, progress=False) as client:
            report = diagnose(client, org=args.org)
    except (ValueError, WalteroError, requests.RequestException) as exc:
        message = str(exc).replace(password, "***") if password else str(exc)
        print(f"waltero-frames doctor: {type(exc).__name__}: {message}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else _text(report))
    return int(report["exit"])


def main(argv: list[str] | None = None) -> int:
    """Run ``waltero-frames doctor`` with ``argv``; return the exit status."""
    from .cli import main as cli_main

    return cli_main(["doctor", *(argv or [])])
