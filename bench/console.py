"""The console: what the harness logs, printed as the plain lines it always printed on stdout.

Modules log to `logging.getLogger(__name__)`. A command (tokencost's CLI, or a fleet task on its Ray node,
whose stdout Ray forwards to the driver) shows those lines for as long as it runs, with `shown()`; the
fleet's record sink, a Ray actor, for as long as its process lives, with `show()`. A long command says what
it is doing with `step()`: those lines go to stderr, so that stdout holds its results alone.
"""

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

PACKAGES = ("bench", "tokencost")  # the loggers shown: these packages' modules log under their names
STEP = "step"  # a log record with this attribute set says what a long command is doing now (step())


class ConsoleHandler(logging.Handler):
    """Each line as it was logged, nothing added, printed to sys.stdout as it is at that moment (as print
    does, so a redirected or captured stdout gets it) and flushed (so a Ray node forwards it at once); a step
    (step()) to sys.stderr, without the header."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.header: str | None = None  # printed before the next line, once (see header_first)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if getattr(record, STEP, False):
                print(self.format(record), file=sys.stderr, flush=True)
                return
            if self.header is not None:
                header, self.header = self.header, None
                print(header)
            print(self.format(record), flush=True)
        except Exception:
            self.handleError(record)


CONSOLE = ConsoleHandler()


def show() -> None:
    """Print the packages' INFO lines and above from now on: for a process of ours alone (a Ray actor's)."""
    for name in PACKAGES:
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        if CONSOLE not in logger.handlers:
            logger.addHandler(CONSOLE)


@contextmanager
def shown() -> Iterator[None]:
    """`show()` inside the block, taken off after, so a test that runs a command in-process leaves no handler
    behind; a block inside another changes nothing."""
    loggers = [logging.getLogger(name) for name in PACKAGES]
    if CONSOLE in loggers[0].handlers:
        yield
        return
    levels = [logger.level for logger in loggers]
    show()
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(CONSOLE)
            logger.setLevel(level)


@contextmanager
def header_first(header: str) -> Iterator[None]:
    """`header` printed before the first line logged inside the block, and not at all if none is."""
    CONSOLE.header = header
    try:
        yield
    finally:
        CONSOLE.header = None


def step(logger: logging.Logger, message: str) -> None:
    """Say on stderr what a long command is doing now: one line as each step begins."""
    logger.info(message, extra={STEP: True})
