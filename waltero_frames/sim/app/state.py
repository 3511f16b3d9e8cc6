"""The running simulator's state: the World, the knobs, tokens, limits, the request log.

The HTTP handlers in ``app_auth``/``app_data`` read everything through :class:`SimState`;
the starters in ``server`` drive it (in-process directly, in a subprocess through the
admin endpoints).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import copy
import math
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..config import SimConfig
from .common import UUID_RE, bad_request, forbidden, iso_ms_array, not_found
from .ratelimit import SlidingWindow, TokenBuckets
from .tokens import TokenAuthority

FIELD_GROUPS = ("meter", "battery", "connection", "meta")
LOG_MAX = 200_000
#: Query parameters never written to the request log.
SECRET_PARAMS = ("token", "password", "secret", "authorization", "apikey", "api_key")


def _plain(value: Any) -> Any:
    """Return a JSON-able Python scalar (NaN/NA → None, numpy scalars → Python)."""
    if value is None:
        return None
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class Catalog:
    """Static lookups derived once from the World (devices and orgs do not change)."""

    orgs: dict[str, dict[str, Any]]
    device_org: dict[str, str]
    org_devices: dict[str, list[dict[str, Any]]]
    details: dict[str, dict[str, Any]]
    grouped_fields: dict[str, dict[str, list[str]]]
    device_fields: dict[str, frozenset[str]]
    units: dict[str, str | None]
    all_fields: frozenset[str]

    @classmethod
    def from_world(cls, world: Any) -> Catalog:
        orgs = {
            str(oid): {k: _plain(v) for k, v in row.items()}
            for oid, row in world.orgs.to_dict("index").items()
        }
        devs = world.devices
        device_org: dict[str, str] = {}
        org_devices: dict[str, list[dict[str, Any]]] = {o: [] for o in orgs}
        details, grouped, dfields, units = {}, {}, {}, {}
        for did, row in devs.to_dict("index").items():
            did = str(did)
            r = {k: _plain(v) for k, v in row.items() if k != "fields"}
            org = r["organization_id"]
            device_org[did] = org
            summary = {
                "id": did,
                "name": r.get("name"),
                "external_id": r.get("external_id"),
                "serial_number": r.get("serial_number"),
                "meter_type": r.get("meter_type"),
            }
            org_devices.setdefault(org, []).append(summary)
            details[did] = {
                **summary,
                "organization_id": org,
                "unit": r.get("unit"),
                "multiplier": r.get("multiplier"),
                "register_digits": r.get("register_digits"),
                "variant": r.get("variant"),
            }
            names = tuple(row["fields"])
            dfields[did] = frozenset(names)
            grouped[did] = {
                g: [f for f in names if f.split(".", 1)[0] == g]
                for g in FIELD_GROUPS
                if any(f.split(".", 1)[0] == g for f in names)
            }
            units[did] = r.get("unit")
        all_fields = frozenset().union(*dfields.values()) if dfields else frozenset()
        return cls(orgs, device_org, org_devices, details, grouped, dfields, units, all_fields)


def users_from_world(world: Any) -> dict[str, dict[str, Any]]:
    """Accounts by username: ``{"id", "name", "password", "organizations": {org: role}}``."""
    return {str(name): dict(u) for name, u in dict(world.users).items()}


class SimState:
    """Everything one running simulator knows; shared by all requests (one event loop).

    Parameters
    ----------
    world : World
        Ground truth (see ``docs/architecture.md``); this state mutates it only through
        ``set_clock`` and ``add_change``. :meth:`reset` replaces it with a fork of the
        World as it was given (so runtime corrections disappear).
    config : SimConfig
        The knobs; :meth:`reset` restores the values given here.
    """

    def __init__(self, world: Any, config: SimConfig) -> None:
        self.world = world
        self._pristine = world.fork()
        self.config = config
        self._initial = copy.deepcopy(config)
        self.authority = TokenAuthority()
        self.buckets = TokenBuckets()
        self.logins = SlidingWindow(60.0)
        self.log: list[dict[str, Any]] = []
        self.counters: Counter = Counter()
        self.catalog = Catalog.from_world(world)
        #: The weather route's sites: organization_id -> latitude, longitude, elevation, timezone
        self.weather_sites = {
            str(oid): {k: _plain(v) for k, v in row.items()}
            for oid, row in world.sites.to_dict("index").items()
        }
        self.users = users_from_world(world)
        self._user_orgs = {u["id"]: dict(u.get("organizations", {})) for u in self.users.values()}
        self._me = {u["id"]: self._me_for(u) for u in self.users.values()}
        self._changes_cache: dict[tuple, Any] = {}
        self._changes_version = 0
        self._clock_applied: tuple | None = None
        self.lock = threading.RLock()  # admin calls from other threads vs the event loop
        self.sync_clock()

    # -- users and scoping ---------------------------------------------------------------
    def _me_for(self, user: dict[str, Any]) -> dict[str, Any]:
        orgs = [o for o in user.get("organizations", {}) if o in self.catalog.orgs]
        return {
            "user": {
                "id": user["id"],
                "email": next(k for k, v in self.users.items() if v is user),
                "name": user.get("name", ""),
                "organizations": [
                    {
                        "organization_id": o,
                        "name": self.catalog.orgs[o].get("name"),
                        "role": user["organizations"][o],
                    }
                    for o in orgs
                ],
            },
            "accessible_organizations": [
                {
                    "organization_id": o,
                    "name": self.catalog.orgs[o].get("name"),
                    "timezone": self.catalog.orgs[o].get("timezone"),
                }
                for o in orgs
            ],
        }

    def me_body(self, claims: dict[str, Any]) -> dict[str, Any]:
        return self._me[claims["sub"]]

    def check_org(self, claims: dict[str, Any], org_id: str) -> None:
        if org_id not in self.catalog.orgs:
            raise not_found(f"unknown organization {org_id!r}")
        if org_id not in self._user_orgs.get(claims["sub"], {}):
            raise forbidden(f"no read access to organization {org_id}")

    def check_device(self, claims: dict[str, Any], device_id: str) -> None:
        org = self.catalog.device_org.get(device_id)
        if org is None:
            raise not_found(f"unknown device {device_id!r}")
        if org not in self._user_orgs.get(claims["sub"], {}):
            raise forbidden(f"no read access to device {device_id} (organization {org})")

    # -- clock -------------------------------------------------------------------------
    def sync_clock(self) -> None:
        """Hand ``config.clock``/``config.speed`` to the World when they changed."""
        want = (self.config.clock, self.config.speed)
        if want != self._clock_applied:
            self.world.set_clock(self.config.clock, speed=self.config.speed)
            self._clock_applied = want
            self._changes_cache.clear()

    def now_ms(self) -> int:
        return pd.Timestamp(self.world.now()).value // 1_000_000

    # -- data --------------------------------------------------------------------------
    def daily_rows(
        self, org_id: str, start: pd.Timestamp, end: pd.Timestamp, resolution: str
    ) -> list[dict[str, Any]]:
        return self.world.daily_consumption_rows(org_id, start, end, resolution)

    def telemetry_body(self, device_id: str, wanted: list[str], lo: int, hi: int) -> bytes:
        """Return the telemetry JSON for readings ``lo <= ts < hi`` (epoch ms) of the wanted fields."""
        supported = self.catalog.device_fields[device_id]
        start, end = _ms_ts(lo), _ms_ts(hi)
        out: dict[str, list] = {}
        formatted: list[tuple[np.ndarray, list[str]]] = []  # a meter's fields share stamps
        as_of = self.world.now()  # one snapshot for every field (the clock may run on)
        for name in wanted:
            if name not in supported:
                continue
            ts, values = self.world.window(device_id, name, start, end, as_of=as_of)
            iso = next((i for t, i in formatted if np.array_equal(t, ts)), None)
            if iso is None:
                iso = iso_ms_array(ts)
                formatted.append((ts, iso))
            out[name] = [
                {"ts": t, "value": v} for t, v in zip(iso, np.asarray(values).tolist(), strict=True)
            ]
        return orjson.dumps({"deviceId": device_id, "fields": out})

    # -- changelog ---------------------------------------------------------------------
    def _changes_index(self, org_id: str) -> dict[str, Any]:
        key = (org_id, self._changes_version, self.config.replication_lag)
        idx = self._changes_cache.get(key)
        if idx is not None:
            return idx
        df = self.world.changes(org_id)
        df = df.sort_values(["changed_at", "change_id"], kind="stable")
        changed = _ms(df["changed_at"])
        visible = _ms(df["visible_at"])
        cap = int(round(self.config.replication_lag * 1000))
        visible = np.minimum(visible, changed + cap)
        ids = df["change_id"].astype(str).tolist()
        rows = [
            {
                "id": cid,
                "deviceId": str(dev),
                "field": fld,
                "timestamp": ts,
                "previousValue": _value(fld, prev),
                "newValue": _value(fld, new),
                "actor": actor,
                "changedAt": cat,
            }
            for cid, dev, fld, ts, prev, new, actor, cat in zip(
                ids,
                df["device_id"].tolist(),
                df["field"].tolist(),
                iso_ms_array(_ms(df["timestamp"])),
                df["previous_value"].tolist(),
                df["new_value"].tolist(),
                df["actor"].tolist(),
                iso_ms_array(changed),
                strict=True,
            )
        ]
        idx = {
            "keys": list(zip(changed.tolist(), ids, strict=True)),
            "changed": changed,
            "visible": visible,
            "rows": rows,
        }
        if len(self._changes_cache) > 64:
            self._changes_cache.clear()
        self._changes_cache[key] = idx
        return idx

    def changes_page(
        self, org_id: str, since_us: int, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the listing ``changedAt >= since`` ordered by (changedAt, id)."""
        idx = self._changes_index(org_id)
        pos = 0
        if cursor is not None:
            c_org, c_ms, c_id = decode_cursor(cursor)
            if c_org != org_id:
                raise bad_request("bad cursor: it belongs to another organization")
            pos = bisect.bisect_right(idx["keys"], (c_ms, c_id))
        since_ms = -(-since_us // 1000)
        pos = max(pos, int(np.searchsorted(idx["changed"], since_ms, side="left")))
        hits = np.flatnonzero(idx["visible"][pos:] <= self.now_ms())[: limit + 1] + pos
        page = [idx["rows"][i] for i in hits[:limit]]
        if len(hits) <= limit:
            return page, None
        last = int(hits[limit - 1])
        return page, encode_cursor(org_id, *idx["keys"][last])

    def add_correction(
        self,
        device_id: str,
        field: str,
        timestamp: Any,
        new_value: float,
        *,
        actor: str = "user",
        changed_at: Any = None,
        lag: float = 0.0,
    ) -> Any:
        """Correct one reading at runtime (``world.add_change``); returns the World's answer."""
        if device_id not in self.catalog.device_org:
            raise ValueError(f"unknown device {device_id!r}")
        if field not in self.catalog.device_fields[device_id]:
            raise ValueError(f"device {device_id} has no field {field!r}")
        if actor not in ("user", "system"):
            raise ValueError(f"actor must be 'user' or 'system', got {actor!r}")
        with self.lock:
            out = self.world.add_change(
                device_id, field, timestamp, new_value, actor=actor, changed_at=changed_at, lag=lag
            )
            self._changes_version += 1
            self._changes_cache.clear()
        return out

    # -- request log -------------------------------------------------------------------
    def record(
        self,
        method: str,
        path: str,
        query: dict,
        status: Any,
        route: str | None,
        t: float,
        ms: float,
    ) -> None:
        self.log.append(
            {
                "method": method,
                "path": path,
                "query": query,
                "status": status,
                "t": t,
                "route": route,
                "ms": round(ms, 3),
            }
        )
        if len(self.log) > LOG_MAX:
            del self.log[: LOG_MAX // 2]
        self.counters[(route, status)] += 1

    def reset(self) -> None:
        """Knobs back to their start values; log, counters, limits and runtime corrections cleared."""
        with self.lock:
            self.config.update(**copy.deepcopy(self._initial).to_dict())
            self.log.clear()
            self.counters.clear()
            self.buckets.clear()
            self.logins.clear()
            self.world = self._pristine.fork()
            self._changes_version += 1
            self._changes_cache.clear()
            self._clock_applied = None
            self.sync_clock()


def _ms_ts(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def _ms(col: pd.Series) -> np.ndarray:
    s = pd.to_datetime(col, utc=True)
    return s.dt.as_unit("ms").astype("int64").to_numpy() if len(s) else np.zeros(0, np.int64)


def _value(field: str, v: Any) -> Any:
    v = _plain(v)
    if isinstance(v, float) and field.endswith(".raw") and v.is_integer():
        return int(v)
    return v


def encode_cursor(org_id: str, changed_ms: int, change_id: str) -> str:
    raw = orjson.dumps(["c1", org_id, changed_ms, change_id])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[str, int, str]:
    """``(org_id, changedAt ms, id)`` of the row a cursor continues after; 400 when it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, org, ms, cid = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        raise bad_request("bad cursor: use the nextCursor of the previous page") from None
    if tag != "c1" or not isinstance(org, str) or not UUID_RE.match(org):
        raise bad_request("bad cursor: use the nextCursor of the previous page")
    if isinstance(ms, bool) or not isinstance(ms, int) or not isinstance(cid, str):
        raise bad_request("bad cursor: use the nextCursor of the previous page")
    return org, ms, cid


def redact_query(query: dict[str, str]) -> dict[str, str]:
    return {
        k: ("***" if any(s in k.lower() for s in SECRET_PARAMS) else v) for k, v in query.items()
    }
