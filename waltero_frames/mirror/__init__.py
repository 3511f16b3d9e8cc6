"""Placeholder: being built."""


class Mirror:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("placeholder: being built")
