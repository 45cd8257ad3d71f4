"""Errors shared across whygym."""


class UserError(Exception):
    """An error caused by the user's input (what was wrong, where, what to do): the CLI prints it
    without a traceback and exits with code 2."""
