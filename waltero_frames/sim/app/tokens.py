"""HS256 JWTs issued and verified the way an API gateway would.

A token is accepted only if it is a well-formed JWT signed with HS256 by *this*
server's key and its ``exp`` (wall-clock epoch seconds) is in the future. ``alg: none``,
other algorithms, foreign keys, tampered payloads and expired tokens are refused.
"""

from __future__ import annotations

import math
import secrets
import time
import uuid
from typing import Any

import jwt

ISSUER = "waltero-sim"


class InvalidToken(Exception):
    """The bearer token is missing, malformed, forged or expired (message is safe to show)."""


class TokenAuthority:
    """Issues and verifies the simulator's bearer tokens.

    Parameters
    ----------
    key : bytes, optional
        HMAC key; a fresh random 32-byte key by default, so tokens of another
        simulator instance are foreign here.

    Examples
    --------
    >>> auth = TokenAuthority()
    >>> tok = auth.issue("u1", "a@example.com", ttl=60)
    >>> auth.verify(tok)["sub"]
    'u1'
    """

    _CACHE_MAX = 4096

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)
        # Signature checks are memoised per token string (a gateway caches its
        # authorizer the same way); expiry is checked on every call.
        self._verified: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:  # never show the key
        return "TokenAuthority(<key hidden>)"

    def issue(self, user_id: str, email: str, ttl: float) -> str:
        """Return a signed JWT for ``user_id`` valid for at least ``ttl`` seconds."""
        now = time.time()
        claims = {
            "iss": ISSUER,
            "sub": user_id,
            "email": email,
            "iat": int(now),
            # Integer epoch seconds, rounded up so the token lives at least `ttl`.
            "exp": math.ceil(now + ttl),
            "jti": uuid.uuid4().hex,
            "token_use": "id",
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str) -> dict[str, Any]:
        """Return the token's claims, or :class:`InvalidToken` with a reason."""
        claims = self._verified.get(token)
        if claims is None:
            try:
                claims = jwt.decode(
                    token,
                    self._key,
                    algorithms=["HS256"],
                    issuer=ISSUER,
                    options={"require": ["exp", "sub", "iss"]},
                )
            except jwt.ExpiredSignatureError as exc:
                raise InvalidToken("token expired") from exc
            except jwt.InvalidTokenError as exc:
                raise InvalidToken("invalid token") from exc
            if len(self._verified) >= self._CACHE_MAX:
                self._verified.clear()
            self._verified[token] = claims
        if claims["exp"] <= time.time():
            raise InvalidToken("token expired")
        return claims
