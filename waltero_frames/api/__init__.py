"""API layer: the Waltero REST API as tidy frames.

``paging`` (the one window splitter and the pagers) → ``endpoints`` (one thin function
per API call, JSON in and out) → ``parse`` (JSON → tidy frame, no network) → ``fetch``
(the public fetch functions). May import ``transport``, ``errors``, ``timeargs`` and
``_attrs``; never ``analysis``, ``mirror``, ``notebook`` or ``sim``.
"""
