"""Failures of the local stack, each saying what is missing and how to get it."""


class StackError(RuntimeError):
    pass
