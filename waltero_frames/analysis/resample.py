"""Placeholder: being built."""


def resample_consumption(*args, **kwargs):
    raise NotImplementedError("placeholder: being built")
