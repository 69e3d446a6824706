"""Domain errors.

The faces turn these into their own idiom (the CLI into one stderr line and
exit status 1, the TUI into a notification), so the message must read well on
its own, without a traceback or the name of the exception class.
"""


class QueueError(Exception):
    """Base class: an operation was refused and nothing was changed."""


class InvalidInput(QueueError):
    """A job spec, setting value or argument does not validate."""


class NotFound(QueueError):
    """A job id that does not exist."""


class Conflict(QueueError):
    """The operation does not fit the job's state (or the id is taken)."""


class StoreError(QueueError):
    """The database file cannot be opened or is not ours."""
