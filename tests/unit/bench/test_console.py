"""The console: logged lines on stdout as they were printed; a long command's steps on stderr."""

import logging

from bench import console

logger = logging.getLogger("bench.test_console")


def test_steps_go_to_stderr_and_lines_to_stdout(capsys):
    with console.shown(), console.header_first("Measuring into run/"):
        console.step(logger, "report: reading the records of 1 run(s)")
        logger.info("idle baseline: 5.0 W")
    out, err = capsys.readouterr()
    assert err == "report: reading the records of 1 run(s)\n"
    assert out == "Measuring into run/\nidle baseline: 5.0 W\n"  # the header waits for a line of stdout


def test_nothing_is_shown_outside_a_command(capsys):
    console.step(logger, "doctor: measuring")
    assert capsys.readouterr() == ("", "")
