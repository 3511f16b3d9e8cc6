"""Reproducible studies (``wf.Study``): record a study's API answers once, replay them anywhere.

Layer: above ``api/`` and ``transport/`` (beside ``mirror/`` and ``notebook/``); imports
``transport``, ``errors`` and, for recording against the bundled simulator, ``sim``.

- :mod:`.core` — ``Study`` (modes, client, check, atomic completion), the manifest.
- :mod:`.answers` — the recorded answers: requests-cache with the study serializer, a
  read-only replay backend, the checksum.
- :mod:`.results` — registered results: exact JSON encoding, first differing cells.
- :mod:`.source` — the tenant or bundled simulator a recording uses; package versions.
- :mod:`.execute` — run a notebook headless with papermill parameters.
- :mod:`.cli` — ``waltero-frames study info | record | verify``.
"""

from __future__ import annotations

from .core import Study, StudyIntegrityError, StudyMismatch, StudyWarning, read_manifest

__all__ = ["Study", "StudyIntegrityError", "StudyMismatch", "StudyWarning", "read_manifest"]
