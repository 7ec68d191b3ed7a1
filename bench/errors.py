"""Errors a user can cause and fix."""


class UserError(Exception):
    """A mistake in the user's input: reported as one line, exit code 2.

    The message names the field, what is wrong with it, and the fix.
    """

    def __init__(self, field: str, problem: str, fix: str):
        self.field = field
        super().__init__(f"{field}: {problem}; {fix}")
