"""Auth endpoints (login, me) and the bearer-token dependency every data endpoint uses."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from .common import ApiError, JSONBytes, bad_request, retry_after
from .tokens import InvalidToken

if TYPE_CHECKING:  # pragma: no cover
    from .state import SimState

router = APIRouter(prefix="/api/auth", tags=["auth"])
_bearer = HTTPBearer(auto_error=False, description="The `token` from `POST /api/auth/login`.")


class LoginBody(BaseModel):
    """Login credentials."""

    model_config = ConfigDict(extra="ignore")
    username: str
    password: str


def sim_state(request: Request) -> SimState:
    return request.app.state.sim


def rate_limited(wait: float, state: SimState, what: str) -> ApiError:
    send = state.config.retry_after_header and "no_retry_after" not in state.config.deviations
    headers = {"Retry-After": retry_after(wait)} if send else {}
    return ApiError(429, "RATE_LIMITED", f"{what}; retry later", headers)


async def current_user(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> dict[str, Any]:
    """Verify the bearer token like a gateway (signature, ``exp``) and apply the per-token limit."""
    state = sim_state(request)
    if creds is None:
        raise ApiError(401, "UNAUTHENTICATED", "missing bearer token")
    try:
        claims = state.authority.verify(creds.credentials)
    except InvalidToken as exc:
        raise ApiError(401, "UNAUTHENTICATED", str(exc)) from None
    cfg = state.config
    if cfg.rate is not None:
        wait = state.buckets.take(claims["jti"], rate=cfg.rate, burst=cfg.burst)
        if wait > 0:
            raise rate_limited(wait, state, "too many requests for this token")
    return claims


User = Annotated[dict[str, Any], Depends(current_user)]


@router.post("/login", name="login", summary="Log in and receive a bearer token")
async def login(request: Request, body: LoginBody) -> JSONBytes:
    state = sim_state(request)
    if not body.username or not body.password:
        raise bad_request("username and password are required")
    limit = state.config.login_limit
    if limit is not None:
        wait = state.logins.take(body.username, limit=limit)
        if wait > 0:
            raise rate_limited(wait, state, "too many logins for this username")
    account = state.users.get(body.username)
    expected = account["password"] if account else secrets.token_hex(16)
    if not (secrets.compare_digest(body.password.encode(), expected.encode()) and account):
        raise ApiError(401, "UNAUTHENTICATED", "wrong username or password")
    token = state.authority.issue(account["id"], body.username, state.config.token_ttl)
    return JSONBytes(
        {
            "token": token,
            "accessToken": token,
            "refreshToken": secrets.token_urlsafe(32),
            "user": {"id": account["id"], "email": body.username, "name": account.get("name", "")},
        }
    )


@router.get("/me", name="me", summary="The token holder and the organizations it can read")
async def me(request: Request, user: User) -> JSONBytes:
    return JSONBytes(sim_state(request).me_body(user))
