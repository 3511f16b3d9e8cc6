"""Placeholder: being built."""


def readings_to_consumption(*args, **kwargs):
    raise NotImplementedError("placeholder: being built")
