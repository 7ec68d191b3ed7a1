"""The serving sweep: per model one server, per load point a warm-up and a measured load, one record each.

Latency and throughput come from the client; energy from this machine's meter
over the same instants (whole point, and the client-decided steady state).
"""

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

from bench.energy.meters import NoMeter
from bench.errors import UserError
from bench.inputs.cards import ModelCard
from bench.inputs.suite import ServeSettings, Suite
from bench.inputs.workload import WARMUP_OSL, PromptStream, PromptSupply
from bench.run.record import Load, PointRecord
from bench.run.run import PlannedPoint, SweepResult, SweepRun
from bench.secrets import redact
from bench.serve.client import CompletionsClient, LoadResult, closed_loop, poisson, run_load
from bench.serve.endpoint import ExistingEndpoint, check_endpoint, is_local
from bench.serve.metrics import Slo, steady_window, summarize
from bench.serve.server import VllmServer

REQUESTS_FILE = "requests.jsonl"
MIN_WARMUP_REQUESTS = 4


@dataclass(frozen=True)
class LoadPoint:
    kind: str  # "concurrency" (closed loop) or "rate" (Poisson arrivals)
    value: float
    num_requests: int
    max_concurrency: int | None = None

    @property
    def label(self) -> str:
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
            model="closed-loop concurrency" if closed else "open-loop Poisson",
            max_concurrency=self.max_concurrency,
            num_requests=self.num_requests,
            steady_window="opens when every slot is decoding, closes when the last request is sent" if closed
            else "opens when the first request finishes, closes at the last arrival",
        )
        coordinate = {"concurrency": int(self.value)} if closed else {"request_rate": float(self.value)}
        return {"mode": "serve", **coordinate, "load": load}


def load_points(serve: ServeSettings) -> list[LoadPoint]:
    return [LoadPoint("concurrency", c, c * serve.requests_per_concurrency) for c in serve.concurrencies] + [
        LoadPoint("rate", r, serve.requests_per_rate, serve.max_concurrency) for r in serve.request_rates]


def serve_point_key(model: str, engine: str, point: LoadPoint, workload) -> str:
    return f"{model}/{engine}-serve/{point.label}/isl{workload.isl}/osl{workload.osl}"


def _engine_name(suite: Suite) -> str:
    return "endpoint" if suite.serve.endpoint else "vllm"


def _points(suite: Suite) -> dict[str, dict[str, LoadPoint]]:
    """Each model's load points by key."""
    engine = _engine_name(suite)
    return {model: {serve_point_key(model, engine, p, suite.workload): p for p in load_points(suite.serve)}
            for model in suite.models}


def plan(suite: Suite) -> list[PlannedPoint]:
    engine = _engine_name(suite)
    return [
        PlannedPoint(key, f"{engine} serve {p.label}", {"engine": {"name": engine, "mode": "serve"}, **p.record_fields()},
                     model, p.sequences_in_flight)
        for model, model_points in _points(suite).items() for key, p in model_points.items()
    ]


def run_serve_sweep(suite: Suite, run_dir: Path, **options) -> SweepResult:
    """Measure every (model, load point) of the suite not measured yet; options: see `SweepRun`."""
    serve = suite.serve
    check_endpoint(serve.endpoint, serve.api_key_env, os.environ)  # one line, before anything starts or is written
    if serve.endpoint and len(suite.models) != 1:
        raise UserError("--models", f"an endpoint serves one model, and {len(suite.models)} cards were named",
                        "name the one card that describes the served model, e.g. --models llama-3.1-8b")
    points = _points(suite)
    meter, hardware = _endpoint_meter_and_hardware(serve) if serve.endpoint else (None, None)
    with SweepRun(suite, run_dir, plan(suite), meter=meter, hardware=hardware, **options) as run:
        for card in run.cards:
            keys = run.todo(list(points[card.name]))
            if not keys:
                continue
            if card.name in run.too_long:
                run.fail_all(card, keys, "context-exceeded", run.too_long[card.name])
                continue
            run.start_model()
            in_flight = {k: n for k in keys if (n := points[card.name][k].sequences_in_flight)}
            unfit = set(in_flight) - set(run.skip_what_cannot_fit(card, in_flight))
            keys = [k for k in keys if k not in unfit]
            if not keys:
                continue
            try:
                with _target(card, suite, run_dir, run.log) as target:
                    point = ServePointMeasurement(run, target)
                    beyond = set(in_flight) - set(run.skip_beyond_kv_capacity(
                        card, target, {k: n for k, n in in_flight.items() if k in keys}))
                    keys = [k for k in keys if k not in beyond]
                    if keys:
                        run.measure_loaded_idle(card)
                    for key in keys:
                        run.measure_point(card, key, partial(point.measure, card, key, points[card.name][key]))
            except UserError as e:  # the server could not start (or the endpoint did not answer)
                run.fail_all(card, [k for k in keys if k not in run.finished], "engine-start", e)
                run.result.start_errors.append(e)
    return run.result


def _target(card: ModelCard, suite: Suite, run_dir: Path, log):
    serve = suite.serve
    if serve.endpoint:
        api_key = os.environ.get(serve.api_key_env) if serve.api_key_env else None
        return ExistingEndpoint(serve.endpoint, serve.endpoint_model, api_key)
    # Open-loop rates with no cap keep vLLM's own limit; a closed-loop cap would queue them inside the server.
    uncapped_rates = serve.request_rates and not serve.max_concurrency
    max_num_seqs = None if uncapped_rates else max((*serve.concurrencies, serve.max_concurrency or 0)) or None
    log(f"[{card.name}] starting vLLM's server on loopback (log: {run_dir / f'server-{card.name}.log'})")
    return VllmServer(card, suite.engine, run_dir / f"server-{card.name}.log", max_num_seqs=max_num_seqs,
                      extra_args=serve.server_args, startup_timeout_s=serve.startup_timeout_s)


def _endpoint_meter_and_hardware(serve: ServeSettings) -> tuple:
    """A local endpoint: this machine's best meter and hardware. A remote one: no meter, hardware as given."""
    if is_local(serve.endpoint):
        return None, None
    if not serve.endpoint_accelerator:
        raise UserError("serve.endpoint_accelerator", "a remote endpoint's hardware is unknown here",
                        "give --endpoint-gpu (e.g. h100-sxm) and --endpoint-gpus, so its cost can be priced")
    return NoMeter("the endpoint is on another machine"), {
        "accelerator": serve.endpoint_accelerator, "accelerator_count": serve.endpoint_accelerator_count,
        "gpus": [], "note": "remote endpoint: hardware as given in the suite, not read from the machine"}


class ServePointMeasurement:
    def __init__(self, run: SweepRun, target):
        self.run, self.target = run, target
        serve = run.suite.serve
        self.slo = Slo(serve.slo_ttft_ms, serve.slo_tpot_ms)

    def _prompts(self, card: ModelCard, count: int, stream: PromptStream) -> list:
        return list(self._formatted(card, self.run.suite.workload.prompts(count, card.vocab_size, stream)))

    def _measured_prompts(self, card: ModelCard, load: LoadPoint) -> Iterable:
        """A closed loop's prompts are sized by time too (at least its count, until min_window_s has passed);
        an open loop's are its count, their arrival times drawn in advance."""
        if load.kind != "concurrency":
            return self._prompts(card, load.num_requests, PromptStream.MEASURED)
        suite = self.run.suite
        return self._formatted(card, PromptSupply(suite.workload, card.vocab_size, int(load.value),
                                                  load.num_requests, suite.min_window_s))

    def _formatted(self, card: ModelCard, prompts: Iterable) -> Iterable:
        """Token ids as they are, or text decoded with the card's tokenizer (lazily, as the load takes them)."""
        if self.run.suite.serve.prompt_format == "token-ids":
            return prompts
        if not card.has_tokenizer:
            raise UserError("serve.prompt_format", f"'text' needs a tokenizer and {card.name}'s card has none",
                            "use prompt_format = 'token-ids', or a card with a tokenizer")
        return map(_tokenizer(str(card.path)).decode, prompts)

    def _load(self, load: LoadPoint, prompts: Iterable, osl: int, window=None) -> LoadResult:
        seed = self.run.suite.workload.seed

        async def drive():
            target = self.target
            async with CompletionsClient(target.base_url, target.model, api_key=target.api_key) as client:
                if load.kind == "concurrency":
                    return await closed_loop(client, prompts, osl, int(load.value), window)
                return await poisson(client, prompts, osl, load.value, seed, load.max_concurrency, window)

        return run_load(drive(), self.run.suite.point_timeout_s)

    def measure(self, card: ModelCard, key: str, load: LoadPoint) -> PointRecord:
        run, serve = self.run, self.run.suite.serve
        prompts = self._measured_prompts(card, load)
        if serve.warmup:
            warm = LoadPoint("concurrency", load.in_flight, load.in_flight)
            self._load(warm, self._prompts(card, load.in_flight, PromptStream.WARMUP), WARMUP_OSL)
        with run.point_windows() as windows:
            result = self._load(load, prompts, run.suite.workload.osl, windows.steady)
        metrics = summarize(result.requests, self.slo)
        _save_requests(run.run_dir, key, result.requests)
        if not metrics.completed:
            errors = {r.error for r in result.requests if r.error}
            if self.target.exited:
                raise RuntimeError(f"the server died: its engine core is gone ({'; '.join(sorted(errors))[:200]})")
            raise RuntimeError(f"all {len(result.requests)} requests failed ({'; '.join(sorted(errors))[:300]})")
        steady_s, steady_tokens, why_not = steady_window(
            result.requests, result.window_open, result.window_close,
            "; ".join(result.notes) or "the window did not open")
        measured = windows.measured(
            key, "the measured requests, ramp-up and drain included", steady_s, steady_tokens, why_not,
            # An existing endpoint's server is another process on the GPU by design.
            other_processes_matter=not serve.endpoint,
            extra_checks={"requests_completed": {"ok": metrics.failed == 0, "completed": metrics.completed,
                                                 "failed": metrics.failed}})
        return run.record(
            card, key, "ok",
            workload=run.suite.workload.to_record() | {"prompt_format": serve.prompt_format},
            engine=self.target.describe(),
            load=run.planned[key].fields["load"].model_copy(
                update={"warmup_requests": load.in_flight if serve.warmup else 0, "num_requests": len(result.requests)}),
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
            f.write(redact(json.dumps({
                "point": key, "sent_s": round(r.sent - start, 6), "ok": r.ok,
                "ttft_ms": r.ttft * 1000 if r.arrivals else None, "e2e_ms": r.e2e * 1000 if r.ok else None,
                "tpot_ms": r.tpot * 1000 if r.ok and r.tpot is not None else None,
                "prompt_tokens": r.prompt_tokens, "output_tokens": r.output_tokens, "chunks": len(r.arrivals),
                # Redacted before JSON escapes a secret's quotes or backslashes, and again as a whole line.
                "error": redact(r.error) if r.error else None,
            })) + "\n")
