"""Failures of the local stack, each saying what is wrong and how to fix it."""


class StackError(RuntimeError):
    pass


class PortTaken(StackError):
    """The port a server should listen on is held by another program."""
