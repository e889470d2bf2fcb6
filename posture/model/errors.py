"""Errors the CLI turns into one line and an exit code, never a traceback."""

from __future__ import annotations


class PostureError(Exception):
    """A problem the user can fix. Printed as one line; exit code ``exit_code``."""

    exit_code: int = 1


class ConfigError(PostureError):
    """Invalid engagement file or command-line input."""

    exit_code = 2


class CollectionError(PostureError):
    """A store cannot be assessed at all (sealed, unreachable, TLS failure, bad token).

    Partial failures are coverage gaps, not this.
    """

    exit_code = 3


class ReadOnlyViolation(PostureError):
    """A collector tried a request outside its read-only allow-list.

    Raised before the request leaves the process.
    """

    exit_code = 4


class IntegrityError(PostureError):
    """A snapshot or published evidence does not match its recorded hashes."""

    exit_code = 5
