"""The one declaration of each column list of the package's frames.

Lowest layer (beside ``timeargs``, imports nothing of the package), so the parsers in
``api``, the helpers in ``analysis`` and the mirror's store all name the same columns.
The simulator keeps its own lists: it shares no code with the client.

>>> DEVICE_COLUMNS + DETAIL_COLUMNS == ALL_DEVICE_COLUMNS
True
>>> set(INFO_COLUMNS) <= set(ALL_DEVICE_COLUMNS)
True
"""

from __future__ import annotations

__all__ = [
    "ALL_DEVICE_COLUMNS",
    "CHANGE_COLUMNS",
    "DEFAULT_FIELDS",
    "DETAIL_COLUMNS",
    "DEVICE_COLUMNS",
    "FIELD_CATALOG",
    "INFO_COLUMNS",
    "LABEL_SOURCES",
    "RAW_FIELD",
    "TEXT_FIELDS",
]

#: The register reading: ``value`` = raw × the device's multiplier.
RAW_FIELD = "meter.value.raw"
#: ``wf.telemetry``'s fields when none are asked for, in column order.
DEFAULT_FIELDS = ("meter.value.raw", "meter.value.processed", "battery.voltage", "connection.rssi")
#: Every field of the contract's ``/fields`` groups, in column order (the default columns
#: of ``Mirror.readings``).
FIELD_CATALOG = (
    *DEFAULT_FIELDS,
    "battery.level",
    "connection.snr",
    "meta.firmware",
    "meta.temperature",
)
#: Fields whose values are text: their column stays ``str`` when no value came back (an
#: empty result keeps its dtypes); any other field without values is float64.
TEXT_FIELDS = frozenset({"meta.firmware"})

#: ``wf.devices`` columns (the device list).
DEVICE_COLUMNS = ("name", "external_id", "serial_number", "meter_type")
#: Added by ``wf.devices(details=True)`` (one ``GET /api/devices/{id}`` per device).
DETAIL_COLUMNS = ("unit", "multiplier", "register_digits", "variant")
#: Every ``wf.devices(details=True)`` column, in order (what the mirror stores per device).
ALL_DEVICE_COLUMNS = DEVICE_COLUMNS + DETAIL_COLUMNS
#: Where ``wf.devices``' display ``label`` (its computed last column) comes from, in order;
#: a device with none of them is labelled with its id.
LABEL_SOURCES = ("name", "external_id", "serial_number")
#: What the helpers need per device, kept in a readings frame's ``attrs["devices"]``.
INFO_COLUMNS = ("meter_type", "unit", "multiplier", "register_digits")

#: ``wf.changes`` columns (index ``changed_at``) → the changelog API's keys.
CHANGE_COLUMNS = {
    "change_id": "id",
    "device_id": "deviceId",
    "field": "field",
    "timestamp": "timestamp",
    "previous_value": "previousValue",
    "new_value": "newValue",
    "actor": "actor",
}
