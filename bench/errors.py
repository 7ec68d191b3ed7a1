"""Errors a user can cause and fix."""


class UserError(Exception):
    """A mistake in the user's input: reported as one line, exit code 2.

    The message names the field, what is wrong with it, and the fix.

    Attributes:
        field: the setting or flag at fault, as the user knows it (e.g. `--batch-sizes`, `engine.max_model_len`).
        problem: what is wrong with its value.
        fix: what to do instead.
    """

    def __init__(self, field: str, problem: str, fix: str) -> None:
        self.field, self.problem, self.fix = field, problem, fix
        # A user's value may hold line breaks; the message stays one line.
        message = f"{field}: {problem}; {fix}"
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))

    def with_field(self, field: str, fix: str | None = None) -> "UserError":
        """The same problem named as `field` (where the user gave it), with `fix` in place of this one's if given."""
        return UserError(field, self.problem, self.fix if fix is None else fix)


class PointTimeout(Exception):
    """A sweep point ran past the suite's point_timeout_s."""


class EngineHung(Exception):
    """An engine's start or generation passed the deadline of our own watchdog (bench.engines.watchdog), which
    ended the engine's processes."""


def failure_kind(error: BaseException) -> str:
    """How a point failed, for its record and for what the sweep does next."""
    name = type(error).__name__
    text = str(error).lower()
    if isinstance(error, EngineHung):
        return "engine-hung"
    if isinstance(error, PointTimeout):
        return "timeout"
    if "OutOfMemory" in name or "out of memory" in text:
        return "out-of-memory"
    if "EngineDead" in name or "engine core" in text and "died" in text:
        return "engine-died"
    return "error"
