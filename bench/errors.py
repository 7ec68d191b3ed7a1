"""Errors a user can cause and fix."""


class UserError(Exception):
    """A mistake in the user's input: reported as one line, exit code 2.

    The message names the field, what is wrong with it, and the fix.
    """

    def __init__(self, field: str, problem: str, fix: str):
        self.field = field
        # A user's value may hold line breaks; the message stays one line.
        message = f"{field}: {problem}; {fix}"
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))


class PointTimeout(Exception):
    """A sweep point ran past the suite's point_timeout_s."""


def failure_kind(error: BaseException) -> str:
    """How a point failed, for its record and for what the sweep does next."""
    name = type(error).__name__
    text = str(error).lower()
    if isinstance(error, PointTimeout):
        return "timeout"
    if "OutOfMemory" in name or "out of memory" in text:
        return "out-of-memory"
    if "EngineDead" in name or "engine core" in text and "died" in text:
        return "engine-died"
    return "error"
