"""The mirror's SQLite schema (documented in ``docs/mirror.md``) and change outcomes."""

from __future__ import annotations

__all__ = ["MIGRATIONS", "OUTCOMES", "SCHEMA", "SCHEMA_VERSION", "VALUE_SETTING"]

SCHEMA_VERSION = 2

#: Outcomes of one change (column ``changes.outcome``); see docs/mirror.md.
OUTCOMES = ("applied", "current", "conflict", "superseded", "out_of_range", "baseline")
#: Outcomes whose change set (or confirmed) the reading's value: they rank for "last wins".
VALUE_SETTING = ("applied", "current", "conflict")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (
    org INTEGER PRIMARY KEY,
    org_id TEXT NOT NULL UNIQUE,
    timezone TEXT                    -- IANA zone from wf.organizations (NULL: not known)
);
CREATE TABLE IF NOT EXISTS devices (
    device INTEGER PRIMARY KEY,
    org INTEGER NOT NULL,
    device_id TEXT NOT NULL UNIQUE,
    name TEXT, external_id TEXT, serial_number TEXT, meter_type TEXT,
    unit TEXT, multiplier REAL, register_digits INTEGER, variant TEXT,
    fields TEXT                      -- JSON list of supported field names (NULL: not asked yet)
);
CREATE TABLE IF NOT EXISTS fields (
    field INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS readings (
    org INTEGER NOT NULL,
    device INTEGER NOT NULL,
    field INTEGER NOT NULL,
    ts INTEGER NOT NULL,             -- epoch ms, UTC
    value,                           -- as the API sent it: integer, real or text
    PRIMARY KEY (org, device, field, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS device_state (
    device INTEGER PRIMARY KEY,
    org INTEGER NOT NULL,
    cov_start INTEGER NOT NULL,      -- the mirror holds every reading in [cov_start, cov_end):
    cov_end INTEGER NOT NULL,        --   the server's clock had passed cov_end when fetched
    last_ts INTEGER                  -- latest reading time held (any field), NULL: none yet
);
CREATE TABLE IF NOT EXISTS windows (
    device INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    run INTEGER,
    n_readings INTEGER NOT NULL,     -- readings = (device, timestamp) rows in the window
    n_added INTEGER NOT NULL,        -- readings not held before
    done_at INTEGER NOT NULL,
    n_values_added INTEGER,          -- field values not held before
    PRIMARY KEY (device, start, end)
);
CREATE TABLE IF NOT EXISTS changes (
    change_id TEXT PRIMARY KEY,
    org INTEGER NOT NULL,
    device INTEGER NOT NULL,
    field INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    previous_value,
    new_value,
    mirror_value,                    -- the mirror's value just before this change
    outcome TEXT NOT NULL,
    actor TEXT,
    changed_at INTEGER NOT NULL,
    run INTEGER,
    applied_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS changes_reading ON changes (device, field, ts);
CREATE TABLE IF NOT EXISTS sync_state (
    org INTEGER PRIMARY KEY,
    start INTEGER NOT NULL,          -- default start of the synced range (first sync's start)
    phase TEXT NOT NULL,             -- 'baseline' until the first changelog read is done, then 'ready'
    watermark INTEGER,               -- last changedAt fully processed (epoch ms)
    ids_at_watermark TEXT NOT NULL DEFAULT '[]'   -- JSON list: change ids seen at that instant
);
CREATE TABLE IF NOT EXISTS sync_runs (
    run INTEGER PRIMARY KEY,
    org INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    status TEXT NOT NULL,            -- running | ok | failed (a killed run stays 'running')
    start INTEGER, end INTEGER,
    readings_added INTEGER NOT NULL DEFAULT 0,   -- (device, timestamp) rows
    changes_applied INTEGER NOT NULL DEFAULT 0,
    conflicts INTEGER NOT NULL DEFAULT 0,
    watermark INTEGER,
    error TEXT,
    values_added INTEGER             -- field values (a reading holds one per field)
);
"""

#: Upgrades in place, by the version they start from. Version 1 files counted field values
#: in ``readings_added``/``n_added``/``n_readings``; their old rows keep those numbers.
MIGRATIONS = {
    1: (
        "ALTER TABLE orgs ADD COLUMN timezone TEXT",
        "ALTER TABLE windows ADD COLUMN n_values_added INTEGER",
        "ALTER TABLE sync_runs ADD COLUMN values_added INTEGER",
    ),
}
