"""Placeholder: being built."""


def flag_anomalies(*args, **kwargs):
    raise NotImplementedError("placeholder: being built")
