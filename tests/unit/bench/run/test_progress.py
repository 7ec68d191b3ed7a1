"""Sweep progress: plain lines in logs, one updating status line on a terminal."""

import io

from bench.run.progress import CLEAR_LINE, Progress, human_duration


class FakeStream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_durations_read_like_a_clock():
    assert human_duration(0) == "0s"
    assert human_duration(45.4) == "45s"
    assert human_duration(72) == "1m12s"
    assert human_duration(3600 + 3 * 60 + 20) == "1h03m"


def test_plain_lines_when_not_a_terminal():
    stream, clock = FakeStream(tty=False), FakeClock()
    progress = Progress(4, stream, clock)
    progress.start("tiny-moe/vllm/batch1/isl128/osl128")
    assert stream.getvalue() == ""  # nothing but finished points in a log
    clock.now += 30
    progress.finish("tiny-moe/vllm/batch1/isl128/osl128", ok=True)
    progress.start("tiny-moe/vllm/batch4/isl128/osl128")
    clock.now += 42
    progress.finish("tiny-moe/vllm/batch4/isl128/osl128", ok=False)
    lines = stream.getvalue().splitlines()
    assert lines == [
        "[1/4] tiny-moe/vllm/batch1/isl128/osl128 ok, elapsed 30s, ETA 1m30s",  # 30 s x 3 to go
        "[2/4] tiny-moe/vllm/batch4/isl128/osl128 failed, elapsed 1m12s, ETA 1m12s",  # 36 s mean x 2 to go
    ]
    assert "\r" not in stream.getvalue()


def test_skipped_points_count_as_done_but_not_in_the_mean_duration():
    stream, clock = FakeStream(tty=False), FakeClock()
    progress = Progress(4, stream, clock)
    progress.start("a")
    clock.now += 60
    progress.finish("a", ok=True)
    progress.finish("b", ok=False, status="skipped")  # never started: out of memory at a smaller batch
    assert progress.done == 2
    assert progress.eta_s() == 120
    assert stream.getvalue().splitlines()[1] == "[2/4] b skipped, elapsed 1m00s, ETA 2m00s"


def test_eta_is_unknown_before_the_first_point_finishes():
    stream = FakeStream(tty=True)
    progress = Progress(8, stream, FakeClock())
    progress.start("tiny-dense/vllm/batch1/isl128/osl128")
    assert progress.eta_s() is None
    assert stream.getvalue() == f"{CLEAR_LINE}[1/8] tiny-dense/vllm/batch1/isl128/osl128 running, elapsed 0s, ETA ?"


def test_one_updating_line_on_a_terminal():
    stream, clock = FakeStream(tty=True), FakeClock()
    progress = Progress(2, stream, clock)
    progress.start("p1")
    clock.now += 10
    progress.finish("p1", ok=True)
    progress.start("p2")
    clock.now += 10
    progress.finish("p2", ok=True)
    out = stream.getvalue()
    assert out.count("\n") == 1 and out.endswith("\n")  # the line is closed once, when the sweep is done
    screens = [s for s in out.rstrip("\n").split(CLEAR_LINE) if s]
    assert screens == [
        "[1/2] p1 running, elapsed 0s, ETA ?",
        "[1/2] p1 ok, elapsed 10s, ETA 10s",
        "[2/2] p2 running, elapsed 10s, ETA 10s",
        "[2/2] p2 ok, elapsed 20s, ETA 0s",
    ]


def test_log_lines_clear_the_status_line_and_it_comes_back():
    stream, clock = FakeStream(tty=True), FakeClock()
    progress = Progress(3, stream, clock)
    log = progress.logging(lambda message: stream.write(message + "\n"))
    progress.start("p1")
    clock.now += 5
    log("[tiny-dense] vllm batch 1: 120.0 output tok/s")
    out = stream.getvalue()
    before, logged = out.split("[tiny-dense]", 1)
    assert before.endswith(CLEAR_LINE)  # the log line starts on a clean line
    assert logged.endswith(f"{CLEAR_LINE}[1/3] p1 running, elapsed 5s, ETA ?")


def test_logging_without_a_status_line_passes_through():
    stream = FakeStream(tty=False)
    messages = []
    log = Progress(3, stream, FakeClock()).logging(messages.append)
    log("idle baseline: 5.0 W")
    assert messages == ["idle baseline: 5.0 W"]
    assert stream.getvalue() == ""


def test_a_stream_without_isatty_is_treated_as_a_log():
    class Plain:
        def __init__(self):
            self.text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    stream = Plain()
    progress = Progress(1, stream, FakeClock())
    progress.finish("p", ok=True)
    assert stream.text == "[1/1] p ok, elapsed 0s, ETA 0s\n"


def engine_then_point(progress: Progress, clock: FakeClock, start_s: float, point_s: float) -> None:
    """An engine started in `start_s`, then point "a" measured in `point_s`, on the simulated clock."""
    progress.engine_starting("vllm for tiny-dense")
    clock.now += start_s
    progress.engine_started()
    progress.start("a")
    clock.now += point_s
    progress.finish("a", ok=True)


def test_the_eta_counts_the_engines_still_to_start_at_their_mean_start_time():
    stream, clock = FakeStream(tty=False), FakeClock()
    left = [1]  # engines still to start, besides the one starting now
    progress = Progress(4, stream, clock, engines_left=lambda: left[0])
    engine_then_point(progress, clock, start_s=120, point_s=30)
    assert progress.eta_s() == 30 * 3 + 120 * 1
    left[0] = 0  # the second engine has started: only points are left
    assert progress.eta_s() == 30 * 3
    assert stream.getvalue().splitlines() == ["[1/4] a ok, elapsed 2m30s, ETA 3m30s"]


def test_the_eta_is_unknown_while_an_engine_is_left_and_none_has_started_yet():
    progress = Progress(2, FakeStream(tty=False), FakeClock(), engines_left=lambda: 1)
    progress.start("a")
    progress.finish("a", ok=True)  # a point measured with no engine timed (an engine this run did not start)
    assert progress.eta_s() is None


def test_an_engine_that_fails_to_start_does_not_count_toward_the_mean():
    clock = FakeClock()
    progress = Progress(2, FakeStream(tty=False), clock, engines_left=lambda: 1)
    progress.engine_starting("vllm for tiny-moe")
    clock.now += 900  # then the start raised: engine_started is never called
    engine_then_point(progress, clock, start_s=60, point_s=10)
    assert progress.eta_s() == 10 + 60


def test_a_terminal_shows_the_engine_starting():
    stream = FakeStream(tty=True)
    progress = Progress(3, stream, FakeClock(), engines_left=lambda: 0)
    progress.engine_starting("vllm for tiny-dense")
    assert stream.getvalue() == f"{CLEAR_LINE}[0/3] starting vllm for tiny-dense, elapsed 0s, ETA ?"
