"""The offline sweep: every engine, model and workload of a suite at every batch size, one record per point."""

from collections.abc import Callable
from functools import partial
from itertools import islice
from pathlib import Path

from bench.engines import engine_class
from bench.engines.base import Engine
from bench.engines.starting import interruptible_start
from bench.engines.watchdog import Watchdog
from bench.errors import EngineHung, UserError
from bench.inputs import fit
from bench.inputs.cards import ModelCard
from bench.inputs.precision import BF16, Precision
from bench.inputs.requests import Request
from bench.inputs.suite import EngineSettings, Suite
from bench.inputs.workload import WARMUP_OSL, PromptStream, PromptSupply, Workload
from bench.run.prefix_cache import cache_salt, hit_rate_check, point_salt
from bench.run.record import PointRecord, PrefillProbe, PrefixCache, Validity
from bench.run.run import PlannedPoint, SweepResult, SweepRun
from bench.secrets import redact


def point_key(model: str, engine: str, batch_size: int, workload: Workload, precision: Precision = BF16) -> str:
    return f"{model}/{engine}{precision.key_suffix()}/batch{batch_size}/{workload.key()}"


def plan(suite: Suite) -> list[PlannedPoint]:
    return [
        PlannedPoint(
            point_key(model, engine, b, workload, precision),
            f"{engine} batch {b}"
            + ("" if workload is suite.workload else f" {workload.label}")
            + ("" if precision.is_default else f" {precision.name}"),
            {
                "mode": "offline",
                "engine": {"name": engine},
                "batch_size": b,
                "precision": precision.to_record(suite.engine.dtype),
            },
            model,
            b,
            workload,
            precision,
        )
        for engine in suite.engines
        for model in suite.models
        for precision in suite.precisions
        for workload in suite.workloads
        if engine in suite.engines_for(workload)
        for b in suite.batch_sizes_for(workload)
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
    planned = plan(suite)
    with SweepRun(suite, run_dir, planned, **options) as run:
        point = PointMeasurement(run)
        for engine_name in suite.engines:
            for card, precision in ((card, precision) for card in run.cards for precision in suite.precisions):
                points = [
                    p
                    for p in planned
                    if p.model == card.name and p.fields["engine"]["name"] == engine_name and p.precision == precision
                ]
                batch_of: dict[str, int] = {}
                for p in points:
                    assert p.in_flight is not None  # `plan` gives every offline point its batch size
                    batch_of[p.key] = p.in_flight
                keys = run.todo(list(batch_of))
                for key in list(keys):
                    if error := run.unfit(card, run.workload_of(key)):
                        run.fail(card, key, "failed", "context-exceeded", error)
                        keys.remove(key)
                if not keys:
                    continue
                run.start_model()
                if engine_name in fit.ESTIMATED_ENGINES:
                    keys = run.skip_what_cannot_fit(card, {k: batch_of[k] for k in keys})
                if not keys:
                    continue
                # The same engine whichever points are left (a resumed run starts it as the first run did).
                largest = max(
                    run.fitting(card, list(batch_of)) if engine_name in fit.ESTIMATED_ENGINES else batch_of.values()
                )
                run.log(f"[{card.name}] starting {engine_name} (max batch {largest})")
                try:
                    with run.engine_start(card, engine_name + precision.key_suffix()):
                        engine = _start_engine(engine_class(engine_name), card, largest, suite.engine_for(precision))
                except UserError as e:
                    run.fail_all(card, keys, "engine-start", e)
                    run.result.start_errors.append(e)
                    continue
                try:
                    if misplaced := run.misplaced_workers(engine):
                        run.fail_all(card, keys, "workers-misplaced", misplaced)
                        continue
                    keys = run.skip_beyond_kv_capacity(card, engine, {k: batch_of[k] for k in keys})
                    if keys:
                        run.measure_loaded_idle(card)
                    for key in keys:
                        run.measure_point(card, key, partial(point.measure, engine, card, key, batch_of[key]))
                finally:
                    engine.close()
    return run.result


def _start_engine(
    engine_factory: Callable[..., Engine], card: ModelCard, max_batch_size: int, settings: EngineSettings
) -> Engine:
    """The engine, started; Ctrl-C or SIGTERM during the start ends it at once (bench.engines.starting), and a
    start still not done after engine.startup_timeout_s is ended (bench.engines.watchdog)."""
    limit = settings.startup_timeout_s
    try:
        with Watchdog(limit, f"the engine had not started after engine.startup_timeout_s = {limit:g} s"):
            engine = interruptible_start(lambda: engine_factory(card, max_batch_size, settings))
        return engine
    except UserError:
        raise
    except EngineHung as e:
        raise UserError(
            f"model {card.name}",
            f"{e}, and was ended",
            "raise engine.startup_timeout_s if the engine was still loading; the engine log above shows where it was",
        ) from e
    except Exception as e:  # vLLM raises many kinds; the user needs the gist and a fix
        gist = redact((str(e).strip().splitlines() or [type(e).__name__])[-1])[:300]  # masked before it is cut
        raise UserError(
            f"model {card.name}",
            f"the engine could not start ({type(e).__name__}: {gist})",
            "check the card's config.json and the [engine] settings; the engine log above has details",
        ) from e


# Past point_timeout_s the engine aborts the point between two steps (PointTimeout, the engine goes on); a step
# still not back this long after that is taken as hung, and the watchdog ends the engine.
HUNG_STEP_GRACE_S = 60.0


class PointMeasurement:
    """Measures one offline sweep point: warm-up, measured window(s), prefill probes, prefix-cache hits, checks."""

    def __init__(self, run: SweepRun):
        self.run, self.suite = run, run.suite

    def bounded(self, what: str) -> Watchdog:
        """A watchdog on one generation of the point (warm-up, measured, probe): none without point_timeout_s."""
        limit = self.suite.point_timeout_s
        if limit is None:
            return Watchdog(None, "")
        return Watchdog(
            limit + HUNG_STEP_GRACE_S,
            f"the {what} was still in one engine step {HUNG_STEP_GRACE_S:g} s after point_timeout_s = {limit:g} s",
        )

    def measure(self, engine: Engine, card: ModelCard, key: str, batch_size: int) -> PointRecord:
        workload = self.run.workload_of(key)
        salt = point_salt(key)
        # Random and lengths prompts share nothing: each request is salted apart, so nothing can hit.
        salt_of_requests = None if workload.cache_aware else cache_salt(key)
        # At least requests_per_batch rounds, and more until the point has lasted min_window_s.
        prompts = PromptSupply(
            workload,
            card.vocab_size,
            batch_size,
            workload.min_first_requests(batch_size),
            self.suite.min_window_s,
            salt=salt,
        )
        if self.suite.warmup:
            # Two rounds of the batch, few tokens each: compiles and caches the full-batch shapes and the
            # refill steps that mix prefill with decode.
            with self.bounded("warm-up"):
                engine.generate(
                    workload.warmup_requests(2 * batch_size, card.vocab_size, salt),
                    WARMUP_OSL,
                    batch_size,
                    salt=cache_salt(f"{key} warm-up"),
                )

        counters = getattr(engine, "prefix_cache_counters", lambda: None)
        before = counters()
        with self.run.point_windows() as windows, self.bounded("measured window"):
            result = engine.generate(
                prompts,
                workload.osl,
                batch_size,
                windows.steady,
                timeout_s=self.suite.point_timeout_s,
                salt=salt_of_requests,
            )
        after = counters()
        measured = windows.measured(
            key,
            "includes batch fill and drain",
            result.steady_duration_s,
            result.steady_output_tokens,
            "the batch never filled with work still queued (raise requests_per_batch above 1)",
        )
        cache = prefix_cache(engine, workload, result, before, after)
        if cache and workload.cache_aware:
            measured.validity = _with_cache_check(measured.validity, cache)
        probes = {}
        if self.suite.prefill_probe:
            probes = self._prefill_probes(engine, card, key, workload, batch_size, prompts.taken, counters)
        return self.run.record(
            card,
            key,
            "ok",
            **(
                {}
                if workload.kind == "random"
                else {
                    "workload": workload.to_record()
                    | {
                        "isl": round(result.input_tokens / result.num_requests),
                        "osl": round(result.output_tokens / result.num_requests),
                    }
                }
            ),
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
            **probes,
            **({"prefix_cache": cache} if cache else {}),
        )

    def _prefill_probes(
        self, engine: Engine, card: ModelCard, key: str, workload: Workload, batch_size: int, taken: int, counters
    ) -> dict:
        """The point's prefill alone (one output token a request), at its batch size: first with every request
        salted apart (nothing cached), then, for cache-aware workloads, the same requests again with their
        blocks now cached. Random workloads probe fresh prompts of their own stream."""
        if workload.cache_aware:
            requests = list(_with_later_turns(islice(workload.requests(card.vocab_size, point_salt(key)), taken)))
        else:
            requests = list(
                islice(workload.requests(card.vocab_size, point_salt(key), PromptStream.PREFILL_PROBE), taken)
            )
        probe_requests = [Request(r.prompt, 1) for r in requests]
        probes = {
            "prefill_probe": self._probe(
                engine,
                probe_requests,
                batch_size,
                cache_salt(f"{key} probe"),
                counters,
                "same batch size and prompts, one output token each, after the "
                "measured window, every request salted apart: nothing cached",
            )
        }
        if workload.cache_aware:
            probes["cached_prefill_probe"] = self._probe(
                engine,
                probe_requests,
                batch_size,
                cache_salt(f"{key} probe"),
                counters,
                "the same requests and salts again right after: their whole blocks in the prefix cache",
            )
        return probes

    def _probe(
        self, engine: Engine, requests: list[Request], batch_size: int, salt: str, counters, note: str
    ) -> PrefillProbe:
        before = counters()
        with self.bounded("prefill probe"):
            timed = engine.generate(requests, 1, batch_size, salt=salt)
        after = counters()
        return PrefillProbe(
            osl=1,
            duration_s=timed.duration_s,
            input_tokens=timed.input_tokens,
            output_tokens=timed.output_tokens,
            note=note,
            cached_tokens=after[1] - before[1] if before and after else None,
        )


def _with_later_turns(requests):
    """Every request of a multi-turn session (its turns in order); other requests as they are."""
    for request in requests:
        while request is not None:
            yield request
            request = request.next_turn() if request.next_turn else None


def prefix_cache(engine: Engine, workload: Workload, result, before, after) -> PrefixCache | None:
    """The prefix cache over the measured point: vLLM's counters beside what the workload implies."""
    if not hasattr(engine, "prefix_cache_counters"):
        return None  # no prefix cache (the transformers baseline)
    queries = hits = None
    if before and after:
        queries, hits = after[0] - before[0], after[1] - before[1]
    block_size = engine.describe().get("effective", {}).get("block_size")
    return PrefixCache(
        enabled=True,
        salted=not workload.cache_aware,
        queries=queries,
        hits=hits,
        hit_rate=hits / queries if queries else None,
        implied_hits=result.implied_hit_tokens,
        implied_hit_rate=result.implied_hit_tokens / result.input_tokens if result.input_tokens else None,
        block_size=block_size,
        source="vLLM engine stats (vllm:prefix_cache_queries and _hits), before and after the point"
        if queries is not None
        else "unavailable: this vLLM's engine reports no prefix-cache counters",
    )


def _with_cache_check(validity: Validity, cache: PrefixCache) -> Validity:
    """The point's checks plus the prefix cache's (hit_rate_check)."""
    checks = {name: check.model_dump() for name, check in validity.checks.items()}
    return Validity.of(checks | {"prefix_cache_hit_rate": hit_rate_check(cache.hit_rate, cache.implied_hit_rate)})
