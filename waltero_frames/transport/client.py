"""Placeholder: being built."""


class Client:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("placeholder: being built")
