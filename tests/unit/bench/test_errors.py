import pytest

from bench.errors import PointTimeout, UserError, failure_kind


class OutOfMemoryError(RuntimeError):  # the name torch gives its CUDA OOM error
    pass


class EngineDeadError(RuntimeError):  # the name vLLM gives a dead engine core
    pass


@pytest.mark.parametrize(
    "error, kind",
    [
        (PointTimeout("slow"), "timeout"),
        (OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "out-of-memory"),
        (RuntimeError("CUDA error: out of memory"), "out-of-memory"),
        (EngineDeadError("EngineCore encountered an issue"), "engine-died"),
        (ValueError("something else"), "error"),
    ],
)
def test_failures_are_classified_for_the_record_and_the_next_step(error, kind):
    assert failure_kind(error) == kind


def test_user_errors_are_one_line_with_field_problem_and_fix():
    assert str(UserError("isl", "is 0", "give a positive integer")) == "isl: is 0; give a positive integer"


def test_a_user_error_stays_one_line_whatever_the_value():
    error = UserError("--set 0\n0", "is not an assumption", "use one of: pue")
    assert str(error) == "--set 0\\n0: is not an assumption; use one of: pue"
