"""Placeholder: being built."""


def changes(*args, **kwargs):
    raise NotImplementedError("placeholder: being built")


def daily_consumption(*args, **kwargs):
    raise NotImplementedError("placeholder: being built")


def devices(*args, **kwargs):
    raise NotImplementedError("placeholder: being built")


def fields(*args, **kwargs):
    raise NotImplementedError("placeholder: being built")


def organizations(*args, **kwargs):
    raise NotImplementedError("placeholder: being built")


def telemetry(*args, **kwargs):
    raise NotImplementedError("placeholder: being built")
