"""The offline sweep: every engine and model of a suite at every batch size, one record per point."""

from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.engines import engine_class
from bench.engines.base import Engine
from bench.engines.starting import interruptible_start
from bench.errors import UserError
from bench.secrets import redact
from bench.inputs.cards import ModelCard
from bench.inputs.suite import Suite
from bench.inputs import fit
from bench.inputs.workload import WARMUP_OSL, PromptStream, PromptSupply
from bench.run.record import PointRecord, PrefillProbe
from bench.run.run import PlannedPoint, SweepResult, SweepRun


def point_key(model: str, engine: str, batch_size: int, workload) -> str:
    return f"{model}/{engine}/batch{batch_size}/isl{workload.isl}/osl{workload.osl}"


def plan(suite: Suite) -> list[PlannedPoint]:
    return [
        PlannedPoint(point_key(model, engine, b, suite.workload), f"{engine} batch {b}",
                     {"mode": "offline", "engine": {"name": engine}, "batch_size": b}, model, b)
        for engine in suite.engines for model in suite.models for b in suite.batch_sizes
    ]


def run_sweep(suite: Suite, run_dir: Path, **options) -> SweepResult:
    """Measure every point of the suite not measured yet, appending each record as it completes.

    A point that fails (out of memory, timeout, engine error) is recorded as
    failed and the sweep goes on; after an out-of-memory error the larger
    batches of that model are skipped, after an engine death the rest of
    that model. An engine that cannot start fails that model's points. Ctrl-C
    or SIGTERM records the current point as interrupted and ends engines
    before the KeyboardInterrupt goes on. Options: see `SweepRun`.
    """
    with SweepRun(suite, run_dir, plan(suite), **options) as run:
        point = PointMeasurement(run)
        for engine_name in suite.engines:
            for card in run.cards:
                batch_of = {point_key(card.name, engine_name, b, suite.workload): b for b in suite.batch_sizes}
                keys = run.todo(list(batch_of))
                if not keys:
                    continue
                if card.name in run.too_long:
                    run.fail_all(card, keys, "context-exceeded", run.too_long[card.name])
                    continue
                run.start_model()
                if engine_name in fit.ESTIMATED_ENGINES:
                    keys = run.skip_what_cannot_fit(card, {k: batch_of[k] for k in keys})
                if not keys:
                    continue
                # The same engine whichever points are left (a resumed run starts it as the first run did).
                largest = max(run.fitting(card, suite.batch_sizes) if engine_name in fit.ESTIMATED_ENGINES
                              else suite.batch_sizes)
                run.log(f"[{card.name}] starting {engine_name} (max batch {largest})")
                try:
                    engine = _start_engine(engine_class(engine_name), card, largest, suite)
                except UserError as e:
                    run.fail_all(card, keys, "engine-start", e)
                    run.result.start_errors.append(e)
                    continue
                try:
                    keys = run.skip_beyond_kv_capacity(card, engine, {k: batch_of[k] for k in keys})
                    if keys:
                        run.measure_loaded_idle(card)
                    for key in keys:
                        run.measure_point(card, key, partial(point.measure, engine, card, key, batch_of[key]))
                finally:
                    engine.close()
    return run.result


def _start_engine(engine_factory: Callable[..., Engine], card: ModelCard, max_batch_size: int, suite: Suite) -> Engine:
    """The engine, started; Ctrl-C or SIGTERM during the start ends it at once (bench.engines.starting)."""
    try:
        return interruptible_start(lambda: engine_factory(card, max_batch_size, suite.engine))
    except UserError:
        raise
    except Exception as e:  # vLLM raises many kinds; the user needs the gist and a fix
        gist = redact((str(e).strip().splitlines() or [type(e).__name__])[-1])[:300]  # masked before it is cut
        raise UserError(
            f"model {card.name}",
            f"the engine could not start ({type(e).__name__}: {gist})",
            "check the card's config.json and the [engine] settings; the engine log above has details",
        ) from e


class PointMeasurement:
    """Measures one offline sweep point: warm-up, measured window(s), prefill probe, checks."""

    def __init__(self, run: SweepRun):
        self.run, self.suite = run, run.suite

    def measure(self, engine: Engine, card: ModelCard, key: str, batch_size: int) -> PointRecord:
        workload = self.suite.workload
        num_requests = workload.num_requests(batch_size)
        # At least requests_per_batch rounds, and more until the point has lasted min_window_s.
        prompts = PromptSupply(workload, card.vocab_size, batch_size, num_requests, self.suite.min_window_s)
        if self.suite.warmup:
            # Two rounds of the batch, few tokens each: compiles and caches the full-batch shapes and the
            # refill steps that mix prefill with decode.
            engine.generate(workload.prompts(2 * batch_size, card.vocab_size, PromptStream.WARMUP), WARMUP_OSL,
                            batch_size)

        with self.run.point_windows() as windows:
            result = engine.generate(prompts, workload.osl, batch_size, windows.steady,
                                     timeout_s=self.suite.point_timeout_s)
        measured = windows.measured(key, "includes batch fill and drain", result.steady_duration_s,
                                    result.steady_output_tokens,
                                    "the batch never filled with work still queued (raise requests_per_batch above 1)")
        probe = {}
        if self.suite.prefill_probe:
            # As many fresh prompts as the point ran, one output token each: its prefill alone.
            timed = engine.generate(
                workload.prompts(result.num_requests, card.vocab_size, PromptStream.PREFILL_PROBE), 1, batch_size)
            probe["prefill_probe"] = PrefillProbe(
                osl=1, duration_s=timed.duration_s, input_tokens=timed.input_tokens, output_tokens=timed.output_tokens,
                note="same batch size and ISL, one output token per request, after the measured window")
        return self.run.record(
            card, key, "ok",
            engine=engine.describe(),
            num_requests=result.num_requests,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            duration_s=result.duration_s,
            output_tok_s=result.output_tokens / result.duration_s,
            total_tok_s=(result.input_tokens + result.output_tokens) / result.duration_s,
            requests_per_s=result.num_requests / result.duration_s,
            throughput_window="whole point: first request sent to last request finished",
            **measured.fields(),
            **probe,
        )
