"""The serving sweep: per model one server, per load point a warm-up and a measured load, one record each.

Latency and throughput come from the client; energy from this machine's meter
over the same instants (whole point, and the client-decided steady state).
"""

import json
import math
import os
import urllib.error
import urllib.request
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import islice
from pathlib import Path
from typing import Literal

from bench.energy.meters import NoMeter
from bench.errors import UserError
from bench.inputs import fit
from bench.inputs.cards import ModelCard
from bench.inputs.requests import Request, implied_hits
from bench.inputs.suite import MAX_WAIT_S, ServeSettings, Suite
from bench.inputs.tiers import tiers_of
from bench.inputs.workload import WARMUP_OSL, PromptSupply, Workload
from bench.run.prefix_cache import cache_salt, counters_in_exposition, hit_rate_check, point_salt
from bench.run.record import Load, LoadModel, PointRecord, PrefixCache
from bench.run.run import PlannedPoint, SweepResult, SweepRun, context_of
from bench.secrets import redact
from bench.serve.capacity import Outcome, Search, append_outcome
from bench.serve.client import CompletionsClient, LoadResult, closed_loop, poisson, replay, run_load
from bench.serve.endpoint import ExistingEndpoint, check_endpoint, is_local
from bench.serve.metrics import Slo, steady_window, summarize
from bench.serve.server import VllmServer
from bench.serve.service_levels import verdicts

REQUESTS_FILE = "requests.jsonl"
MIN_WARMUP_REQUESTS = 4


LoadKind = Literal["concurrency", "rate", "replay"]  # closed loop, Poisson arrivals, a trace's own times
LOAD_MODELS: dict[LoadKind, LoadModel] = {
    "concurrency": "closed-loop concurrency",
    "rate": "open-loop Poisson",
    "replay": "open-loop trace replay",
}


@dataclass(frozen=True)
class LoadPoint:
    kind: LoadKind
    value: float  # the concurrency, the rate, or a replay's time scale
    num_requests: int
    max_concurrency: int | None = None
    mean_rate: float | None = None  # a replay: the trace's requests per second, scaled

    @property
    def label(self) -> str:
        if self.kind == "replay":
            return "replay" + (f"-x{self.value:g}" if self.value != 1 else "")
        return f"conc{int(self.value)}" if self.kind == "concurrency" else f"rate{self.value:g}"

    @property
    def sequences_in_flight(self) -> int | None:
        """The most requests the server holds at once, where the load fixes it (uncapped rates do not)."""
        return int(self.value) if self.kind == "concurrency" else self.max_concurrency

    @property
    def in_flight(self) -> int:
        """How many requests a warm-up keeps in flight to resemble this point."""
        if self.kind == "concurrency":
            return int(self.value)
        return min(self.max_concurrency or MIN_WARMUP_REQUESTS, MIN_WARMUP_REQUESTS)

    def record_fields(self) -> dict:
        """The point's coordinate and load, as its record (ok or failed) carries them."""
        closed = self.kind == "concurrency"
        load = Load(
            model=LOAD_MODELS[self.kind],
            max_concurrency=self.max_concurrency,
            num_requests=self.num_requests,
            steady_window="opens when every slot is decoding, closes when the last request is sent"
            if closed
            else "opens when the first request finishes, closes at the last arrival",
        )
        # A replay's coordinate is the trace's mean rate: None for a trace whose requests all start at once.
        rate = self.mean_rate if self.kind == "replay" else float(self.value)
        coordinate = {"concurrency": int(self.value)} if closed else {"request_rate": rate}
        return {"mode": "serve", **coordinate, "load": load}


def load_points(suite: Suite, workload: Workload | None = None) -> list[LoadPoint]:
    """The workload's load points: closed loop at each concurrency (those an extra workload chose, if it
    chose); Poisson at each rate, or for a trace one replay on the trace's own schedule."""
    serve, workload = suite.serve, workload or suite.workload
    points = [
        LoadPoint("concurrency", c, c * serve.requests_per_concurrency) for c in suite.concurrencies_for(workload)
    ]
    if workload.kind == "trace":
        rows = workload.trace_rows()
        span_s = (rows[-1].timestamp_ms - rows[0].timestamp_ms) / 1000 / workload.trace.time_scale
        _check_replay_span(span_s, workload)
        return points + [
            LoadPoint(
                "replay",
                workload.trace.time_scale,
                len(rows),
                serve.max_concurrency,
                len(rows) / span_s if span_s > 0 else None,
            )
        ]
    if workload.batch_sizes:
        return points
    return points + [LoadPoint("rate", r, serve.requests_per_rate, serve.max_concurrency) for r in serve.request_rates]


def _check_replay_span(span_s: float, workload: Workload) -> None:
    """A replay keeps the trace's own schedule: one spanning more than a day (timestamps in seconds, not
    milliseconds, say) would hold the run for that long, so it is refused before anything starts."""
    if span_s > MAX_WAIT_S:
        faster = math.ceil(workload.trace.time_scale * span_s / MAX_WAIT_S)
        raise UserError(
            "workload.trace.file",
            f"{workload.trace.file or 'the shipped trace'} replays over {span_s / 86_400:,.1f} days at time_scale "
            f"{workload.trace.time_scale:g}, more than the day a replay may take",
            f"check its timestamps are milliseconds, cut it (workload.trace.max_requests), or replay it faster "
            f"with workload.trace.time_scale >= {faster}",
        )


def serve_point_key(model: str, engine: str, point: LoadPoint, workload: Workload) -> str:
    return f"{model}/{engine}-serve/{point.label}/{workload.key()}"


def _engine_name(suite: Suite) -> str:
    """The engine segment of the suite's point keys: serving measures one precision arm a run (Suite.check),
    named in the key when it is not bf16."""
    return "endpoint" if suite.serve.endpoint else "vllm" + suite.precisions[0].key_suffix()


def repeat_key(key: str, repeat: int) -> str:
    """The key of a point's repeat: the first measurement keeps the point's own key."""
    return key if repeat == 0 else f"{key}/repeat{repeat}"


def _points(suite: Suite) -> dict[str, dict[str, tuple[LoadPoint, Workload]]]:
    """Each model's load points (and their workloads) by key, every repeat its own."""
    engine = _engine_name(suite)
    return {
        model: {
            repeat_key(serve_point_key(model, engine, p, w), r): (p, w)
            for w in suite.workloads
            for p in load_points(suite, w)
            for r in range(suite.serve.repeats)
        }
        for model in suite.models
    }


def planned_point(suite: Suite, model: str, key: str, load: LoadPoint, workload: Workload) -> PlannedPoint:
    engine = _engine_name(suite)
    repeat = int(key.rsplit("/repeat", 1)[1]) if "/repeat" in key else 0
    label = (
        f"{engine} serve {load.label}"
        + ("" if workload is suite.workload else f" {workload.label}")
        + (f" (repeat {repeat + 1})" if repeat else "")
    )
    precision = suite.precisions[0]
    fields = {"engine": {"name": engine.removesuffix(precision.key_suffix()), "mode": "serve"}, **load.record_fields()}
    if not suite.serve.endpoint:  # an endpoint serves in whatever precision it was started with
        fields["precision"] = precision.to_record(suite.engine.dtype)
    if suite.serve.repeats > 1 or repeat:
        fields["repeat"] = repeat
    return PlannedPoint(key, label, fields, model, load.sequences_in_flight, workload, precision)


def plan(suite: Suite) -> list[PlannedPoint]:
    return [
        planned_point(suite, model, key, p, w)
        for model, model_points in _points(suite).items()
        for key, (p, w) in model_points.items()
    ]


def run_serve_sweep(suite: Suite, run_dir: Path, **options) -> SweepResult:
    """Measure every (model, load point) of the suite not measured yet; options: see `SweepRun`."""
    serve = suite.serve
    check_endpoint(serve.endpoint, serve.api_key_env, os.environ)  # one line, before anything starts or is written
    if serve.endpoint and len(suite.models) != 1:
        raise UserError(
            "--models",
            f"an endpoint serves one model, and {len(suite.models)} cards were named",
            "name the one card that describes the served model, e.g. --models llama-3.1-8b",
        )
    points = _points(suite)
    meter, hardware = (
        _endpoint_meter_and_hardware(serve.endpoint, serve)
        if serve.endpoint
        else (options.pop("meter", None), options.pop("hardware", None))
    )  # a multi-node engine's (bench.fleet)
    with SweepRun(suite, run_dir, plan(suite), meter=meter, hardware=hardware, **options) as run:
        for card in run.cards:
            keys = run.todo(list(points[card.name]))
            for key in list(keys):
                if error := run.unfit(card, run.workload_of(key)):
                    run.fail(card, key, "failed", "context-exceeded", error)
                    keys.remove(key)
            if not keys and not serve.capacity:
                continue
            run.start_model()
            in_flight = {k: n for k in keys if (n := points[card.name][k][0].sequences_in_flight)}
            unfit = set(in_flight) - set(run.skip_what_cannot_fit(card, in_flight))
            keys = [k for k in keys if k not in unfit]
            if not keys and not serve.capacity:
                continue
            try:
                with ExitStack() as stack:
                    with run.engine_start(card, _engine_name(suite)):
                        target = stack.enter_context(_target(card, run))
                    if misplaced := run.misplaced_workers(target):
                        raise UserError(
                            "engine.executor",
                            f"vLLM's server placed its own Ray workers, not on the metered GPUs: {misplaced}",
                            "give the cluster no free GPUs but the engine's (one accelerator type, no other "
                            "engines), or measure on one node",
                        )
                    point = ServePointMeasurement(run, target)
                    beyond = set(in_flight) - set(
                        run.skip_beyond_kv_capacity(card, target, {k: n for k, n in in_flight.items() if k in keys})
                    )
                    keys = [k for k in keys if k not in beyond]
                    run.measure_loaded_idle(card)
                    for key in keys:
                        run.measure_point(card, key, partial(point.measure, card, key, points[card.name][key][0]))
                    for workload in suite.workloads if serve.capacity else ():
                        if not run.unfit(card, workload):
                            CapacitySearches(run, card, target, point, workload).search_all()
            except UserError as e:  # the server could not start (or the endpoint did not answer)
                run.fail_all(card, [k for k in keys if k not in run.finished], "engine-start", e)
                run.result.start_errors.append(e)
    return run.result


def _target(card: ModelCard, run: SweepRun):
    suite, serve = run.suite, run.suite.serve
    if serve.endpoint:
        api_key = os.environ.get(serve.api_key_env) if serve.api_key_env else None
        return ExistingEndpoint(serve.endpoint, serve.endpoint_model, api_key)
    # Open-loop rates with no cap keep vLLM's own limit; a closed-loop cap would queue them inside the server.
    open_loop = serve.request_rates or any(w.kind == "trace" for w in suite.workloads)
    concurrencies = [c for w in suite.workloads for c in suite.concurrencies_for(w)]
    max_num_seqs = (
        None if open_loop and not serve.max_concurrency else max((*concurrencies, serve.max_concurrency or 0)) or None
    )
    log_path = run.run_dir / f"server-{card.file_name}.log"
    run.log(f"[{card.name}] starting vLLM's server on loopback (log: {log_path})")
    return VllmServer(
        card,
        suite.engine_for(suite.precisions[0]),
        log_path,
        max_num_seqs=max_num_seqs,
        extra_args=serve.server_args,
        startup_timeout_s=serve.startup_timeout_s,
    )


def _endpoint_meter_and_hardware(endpoint: str, serve: ServeSettings) -> tuple:
    """A local endpoint: this machine's best meter and hardware. A remote one: no meter, hardware as given."""
    if is_local(endpoint):
        return None, None
    if not serve.endpoint_accelerator:
        raise UserError(
            "serve.endpoint_accelerator",
            "a remote endpoint's hardware is unknown here",
            "give --endpoint-gpu (e.g. h100-sxm) and --endpoint-gpus, so its cost can be priced",
        )
    return NoMeter("the endpoint is on another machine"), {
        "accelerator": serve.endpoint_accelerator,
        "accelerator_count": serve.endpoint_accelerator_count,
        "gpus": [],
        "note": "remote endpoint: hardware as given in the suite, not read from the machine",
    }


class ServePointMeasurement:
    def __init__(self, run: SweepRun, target):
        self.run, self.target = run, target
        serve = run.suite.serve
        self.slo = Slo(serve.slo_ttft_ms, serve.slo_tpot_ms)

    def _measured_prompts(self, card: ModelCard, key: str, load: LoadPoint) -> Iterable:
        """A closed loop's requests are sized by time too (at least its count, until min_window_s has passed);
        an open loop's are its count, their arrival times drawn in advance; a replay's are the whole trace."""
        suite, workload = self.run.suite, self.run.workload_of(key)
        salt = point_salt(key)
        if load.kind == "replay":
            return list(workload.requests(card.vocab_size, salt))
        if load.kind != "concurrency":
            # A list, prompts decoded before the point starts: Poisson arrivals are drawn one per prompt.
            return list(self._formatted(card, islice(workload.requests(card.vocab_size, salt), load.num_requests)))
        slots = int(load.value)
        return self._formatted(
            card,
            PromptSupply(
                workload,
                card.vocab_size,
                slots,
                workload.min_first_requests(slots, load.num_requests),
                suite.min_window_s,
                salt=salt,
            ),
        )

    def _formatted(self, card: ModelCard, requests: Iterable) -> Iterable:
        """Requests as they are, or (random only) their prompts as text decoded with the card's tokenizer."""
        if self.run.suite.serve.prompt_format == "token-ids":
            return requests
        if not card.has_tokenizer:
            raise UserError(
                "serve.prompt_format",
                f"'text' needs a tokenizer and {card.name}'s card has none",
                "use prompt_format = 'token-ids', or a card with a tokenizer",
            )
        decode = _tokenizer(str(card.path)).decode
        return (decode(r.prompt) for r in requests)

    def _load(self, load: LoadPoint, prompts: Iterable, osl: int, window=None, salt: str | None = None) -> LoadResult:
        seed = self.run.suite.workload.seed
        # Only a vLLM server started here is known to take a cache salt; an endpoint may refuse the field.
        salt = salt if getattr(self.target, "takes_cache_salt", False) else None

        async def drive():
            target = self.target
            async with CompletionsClient(target.base_url, target.model, api_key=target.api_key) as client:
                if load.kind == "concurrency":
                    return await closed_loop(client, prompts, osl, int(load.value), window, salt)
                assert isinstance(prompts, list)  # an open loop's prompts are a list (_measured_prompts)
                if load.kind == "replay":
                    return await replay(client, prompts, load.value, load.max_concurrency, window, salt)
                return await poisson(client, prompts, osl, load.value, seed, load.max_concurrency, window, salt)

        return run_load(drive(), self.run.suite.point_timeout_s)

    def measure(self, card: ModelCard, key: str, load: LoadPoint) -> PointRecord:
        run, serve = self.run, self.run.suite.serve
        workload = run.workload_of(key)
        prompts = self._measured_prompts(card, key, load)
        if serve.warmup:
            warm = LoadPoint("concurrency", load.in_flight, load.in_flight)
            requests = workload.warmup_requests(load.in_flight, card.vocab_size, point_salt(key))
            self._load(warm, self._formatted(card, requests), WARMUP_OSL, salt=cache_salt(f"{key} warm-up"))
        counters_before = self._prefix_counters()
        with run.point_windows() as windows:
            result = self._load(
                load, prompts, workload.osl, windows.steady, salt=None if workload.cache_aware else cache_salt(key)
            )
        counters_after = self._prefix_counters()
        metrics = summarize(result.requests, self.slo)
        _save_requests(run.run_dir, key, result.requests)
        if not metrics.completed:
            errors = {r.error for r in result.requests if r.error}
            if self.target.exited:
                raise RuntimeError(f"the server died: its engine core is gone ({'; '.join(sorted(errors))[:200]})")
            raise RuntimeError(f"all {len(result.requests)} requests failed ({'; '.join(sorted(errors))[:300]})")
        steady_s, steady_tokens, why_not = steady_window(
            result.requests,
            result.window_open,
            result.window_close,
            "; ".join(result.notes) or "the window did not open",
        )
        tiers = verdicts(tiers_of(run.suite.tiers), result.requests)
        cache = self._prefix_cache(workload, result.requests, counters_before, counters_after)
        extra_checks = {
            "requests_completed": {"ok": metrics.failed == 0, "completed": metrics.completed, "failed": metrics.failed}
        }
        if cache and workload.cache_aware:
            extra_checks["prefix_cache_hit_rate"] = hit_rate_check(cache.hit_rate, cache.implied_hit_rate)
        measured = windows.measured(
            key,
            "the measured requests, ramp-up and drain included",
            steady_s,
            steady_tokens,
            why_not,
            # An existing endpoint's server is another process on the GPU by design.
            other_processes_matter=not serve.endpoint,
            extra_checks=extra_checks,
        )
        means = {}
        if workload.kind != "random":  # lengths that vary: the means of those served
            assert metrics.input_tokens is not None and metrics.output_tokens is not None  # some completed (above)
            means = {
                "isl": round(metrics.input_tokens / metrics.completed),
                "osl": round(metrics.output_tokens / metrics.completed),
            }
        return run.record(
            card,
            key,
            "ok",
            workload=workload.to_record() | means | {"prompt_format": serve.prompt_format},
            **({"prefix_cache": cache} if cache else {}),
            tiers=tiers,
            engine=self.target.describe(),
            load=run.planned[key]
            .fields["load"]
            .model_copy(
                update={"warmup_requests": load.in_flight if serve.warmup else 0, "num_requests": len(result.requests)}
            ),
            num_requests=len(result.requests),
            requests_completed=metrics.completed,
            requests_failed=metrics.failed,
            input_tokens=metrics.input_tokens,
            output_tokens=metrics.output_tokens,
            duration_s=metrics.duration_s,
            requests_per_s=metrics.requests_per_s,
            output_tok_s=metrics.output_tok_s,
            total_tok_s=metrics.total_tok_s,
            latency_ms=metrics.latency_ms,
            interactivity_tok_s_user=metrics.interactivity_tok_s_user,
            interactivity_p90_tok_s_user=metrics.interactivity_p90_tok_s_user,
            goodput=metrics.goodput,
            max_concurrent_requests=metrics.max_concurrent_requests,
            throughput_window="client clock: first measured request sent to last one finished",
            interactivity_definition="1000 / TPOT ms (median; p90 for the slow tail), tokens/s per user",
            requests_file=REQUESTS_FILE,
            **measured.fields(),
        )

    def _prefix_counters(self) -> tuple[int, int] | None:
        """(queries, hits) of the server's prefix cache, from its Prometheus /metrics; None where it has none."""
        request = urllib.request.Request(f"{self.target.base_url}/metrics")
        if self.target.api_key:
            request.add_header("Authorization", f"Bearer {self.target.api_key}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode(errors="replace")
        except (urllib.error.URLError, OSError, ValueError):
            return None
        return counters_in_exposition(text)

    def _prefix_cache(self, workload: Workload, requests, before, after) -> PrefixCache | None:
        """The server's prefix cache over the point, beside what the workload implies; None for an endpoint
        that exposes no vLLM counters."""
        if before is None or after is None:
            return None
        queries, hits = after[0] - before[0], after[1] - before[1]
        block_size = (getattr(self.target, "kv_cache_blocks", None) or (None, None))[1]
        sent = [r for r in requests if r.prompt_tokens]
        prompt_tokens = sum(r.prompt_tokens for r in sent)
        implied = (
            sum(implied_hits(Request([0] * r.prompt_tokens, 1, r.reused), block_size) for r in sent)
            if block_size and workload.cache_aware
            else 0
        )
        salted = not workload.cache_aware and getattr(self.target, "takes_cache_salt", False)
        return PrefixCache(
            enabled=True,
            salted=salted,
            queries=queries,
            hits=hits,
            hit_rate=hits / queries if queries else None,
            implied_hits=implied,
            implied_hit_rate=implied / prompt_tokens if prompt_tokens else None,
            block_size=block_size,
            source="the server's /metrics (vllm:prefix_cache_queries and _hits), before and "
            "after the point; the warm-up's requests excluded",
        )


class CapacitySearches:
    """Every tier's capacity search for one model and workload on a running server (bench.serve.capacity)."""

    def __init__(self, run: SweepRun, card: ModelCard, target, point: "ServePointMeasurement", workload: Workload):
        self.run, self.card, self.target, self.point, self.workload = run, card, target, point, workload
        serve = run.suite.serve
        self.closed = serve.capacity_load == "concurrency"
        self.maximum, self.note = serve.capacity_max, None
        self.attempted: set[str] = set()  # keys measured by the searches, failed ones included (never retried)
        blocks: tuple[int, int] | None = getattr(target, "kv_cache_blocks", None)
        if self.closed and blocks:  # no more in flight than the server's KV cache holds without preempting
            fits = fit.sequences_in_blocks(*blocks, context_of(workload)) * run.suite.engine.data_parallel_size
            if fits < self.maximum:
                self.maximum, self.note = float(fits), f"the KV cache holds {fits} sequences"

    def load(self, value: float) -> LoadPoint:
        serve = self.run.suite.serve
        if self.closed:
            return LoadPoint("concurrency", int(value), int(value) * serve.requests_per_concurrency)
        return LoadPoint("rate", value, serve.requests_per_rate, serve.max_concurrency)

    def verdicts(self, value: float, runs: int, tier: str) -> list[bool]:
        """The tier's verdict of each measurement at this load, measuring until there are `runs`."""
        run, load = self.run, self.load(value)
        engine = _engine_name(run.suite)
        keys = [repeat_key(serve_point_key(self.card.name, engine, load, self.workload), r) for r in range(runs)]
        for key in keys:
            if key not in run.records and key not in self.attempted:
                self.attempted.add(key)
                run.plan_point(planned_point(run.suite, self.card.name, key, load, self.workload))
                run.measure_point(self.card, key, partial(self.point.measure, self.card, key, load))
        return [bool((record := run.records.get(key)) and record.tiers and record.tiers[tier].met) for key in keys]

    def search_all(self) -> None:
        serve = self.run.suite.serve
        for tier in serve.capacity:
            start = 1.0 if self.closed else serve.capacity_start_rate
            search = Search(
                self.closed, start, max(self.maximum, start), serve.capacity_tolerance, serve.capacity_repeats
            )
            low, high = search.run(partial(self.verdicts, tier=tier))
            outcome = Outcome(
                model=self.card.name,
                workload=self.workload.label,
                workload_key=self.workload.key(),
                tier=tier,
                load=serve.capacity_load,
                status="never" if low is None else "found" if high is not None else "at-least",
                capacity=low,
                first_failing=high,
                tolerance=serve.capacity_tolerance,
                repeats=serve.capacity_repeats,
                maximum=self.maximum,
                tried={f"{v:g}": verdicts for v, verdicts in sorted(search.verdicts.items())},
                points=[]
                if low is None
                else [
                    repeat_key(
                        serve_point_key(self.card.name, _engine_name(self.run.suite), self.load(low), self.workload), r
                    )
                    for r in range(len(search.verdicts[low]))
                ],
                note=self.note,
            )
            append_outcome(self.run.run_dir, outcome)
            self.run.log(f"[{self.card.name}] capacity: {outcome.summary()}")


@lru_cache(maxsize=4)
def _tokenizer(path: str):
    """A card's tokenizer, loaded once for all its points' warm-ups and measured prompts."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def _save_requests(run_dir: Path, key: str, requests) -> None:
    """Per-request timings (not every token's arrival) beside the records, for re-analysis."""
    start = min(r.sent for r in requests)
    with (run_dir / REQUESTS_FILE).open("a") as f:
        for r in requests:
            f.write(
                redact(
                    json.dumps(
                        {
                            "point": key,
                            "sent_s": round(r.sent - start, 6),
                            "ok": r.ok,
                            "ttft_ms": r.ttft * 1000 if r.arrivals else None,
                            "e2e_ms": r.e2e * 1000 if r.ok else None,
                            "tpot_ms": r.tpot * 1000 if r.ok and r.tpot is not None else None,
                            "prompt_tokens": r.prompt_tokens,
                            "output_tokens": r.output_tokens,
                            "chunks": len(r.arrivals),
                            # Redacted before JSON escapes a secret's quotes or backslashes, and again as a whole line.
                            "error": redact(r.error) if r.error else None,
                        }
                    )
                )
                + "\n"
            )
