"""`tokencost report` says what it is doing on stderr, one line a step; its stdout keeps the tables alone."""

from tests.conftest import CPU_DEMO
from tests.support.cli import tokencost


def test_report_says_each_step_on_stderr(tmp_path):
    result = tokencost("report", CPU_DEMO, "-o", tmp_path / "report")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "report: reading the records of 1 run(s)",
        "report: pricing 16 record(s) with preset 'owned', building sections",
        f"report: writing the tables to {tmp_path / 'report'}",
        "report: drawing 6 plot(s), each as PNG and SVG",
        "report: writing report.md and the web page",
    ]
    assert "report:" not in result.stdout and f"Page: {tmp_path / 'report' / 'index.html'}" in result.stdout
