"""Placeholder: replaced by the client work."""


class WalteroError(Exception):
    pass


class Unauthenticated(WalteroError):
    pass


class Forbidden(WalteroError):
    pass


class NotFound(WalteroError):
    pass


class BadRequest(WalteroError):
    pass


class RateLimited(WalteroError):
    pass


class ServerError(WalteroError):
    pass


class CacheMiss(WalteroError):
    pass
