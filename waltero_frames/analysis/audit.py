"""Placeholder: being built."""


def apply_changes(*args, **kwargs):
    raise NotImplementedError("placeholder: being built")


def diff_readings(*args, **kwargs):
    raise NotImplementedError("placeholder: being built")
