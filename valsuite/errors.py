"""One exception type for everything the user can fix.

Scripts catch ValsuiteError at the top, print its message on one line and exit with code 2;
any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

USER_ERROR_EXIT_CODE = 2


class ValsuiteError(Exception):
    """A user-facing error: bad input, missing file, unsupported combination."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.hint = hint
        text = message if hint is None else f"{message} ({hint})"
        super().__init__(text)
