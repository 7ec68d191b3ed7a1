"""The serving sweep: per model one server, per load point a warm-up and a measured load, one record each.

Latency and throughput come from the client; energy from this machine's meter
over the same instants (whole point, and the client-decided steady state).
"""

import json
import os
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

from bench.cards import ModelCard
from bench.endpoint import ExistingEndpoint, is_local
from bench.errors import UserError
from bench.power import NoMeter
from bench.serve_client import CompletionsClient, closed_loop, poisson, run_load
from bench.serve_metrics import Slo, steady_window, summarize
from bench.server import VllmServer
from bench.suite import ServeSettings, Suite
from bench.sweep import (
    MEASURED,
    WARMUP,
    WARMUP_OSL,
    SweepRun,
    Window,
    now,
    steady_state,
)

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
    def in_flight(self) -> int:
        """How many requests a warm-up keeps in flight to resemble this point."""
        if self.kind == "concurrency":
            return int(self.value)
        return min(self.max_concurrency or MIN_WARMUP_REQUESTS, MIN_WARMUP_REQUESTS)

    def to_record(self) -> dict:
        closed = self.kind == "concurrency"
        return {
            "model": "closed-loop concurrency" if closed else "open-loop Poisson",
            "concurrency": int(self.value) if closed else None,
            "request_rate": None if closed else self.value,
            "max_concurrency": self.max_concurrency,
            "num_requests": self.num_requests,
            "steady_window": "opens when every slot is decoding, closes when the last request is sent" if closed
            else "opens when the first request finishes, closes at the last arrival",
        }


def load_points(serve: ServeSettings) -> list[LoadPoint]:
    return [LoadPoint("concurrency", c, c * serve.requests_per_concurrency) for c in serve.concurrencies] + [
        LoadPoint("rate", r, serve.requests_per_rate, serve.max_concurrency) for r in serve.request_rates]


def serve_point_key(model: str, engine: str, point: LoadPoint, workload) -> str:
    return f"{model}/{engine}-serve/{point.label}/isl{workload.isl}/osl{workload.osl}"


def run_serve_sweep(suite: Suite, run_dir: Path, **options):
    """Measure every (model, load point) of the suite not measured yet; options: see `SweepRun`."""
    serve = suite.serve
    engine = "endpoint" if serve.endpoint else "vllm"
    if serve.endpoint and len(suite.models) != 1:
        raise UserError("--models", f"an endpoint serves one model, and {len(suite.models)} cards were named",
                        "name the one card that describes the served model, e.g. --models llama-3.1-8b")
    points = {model: {serve_point_key(model, engine, p, suite.workload): p for p in load_points(serve)}
              for model in suite.models}
    planned = {
        key: {"label": f"{engine} serve {p.label}",
              "fields": {"mode": "serve", "engine": {"name": engine, "mode": "serve"}, "load": p.to_record()}}
        for model_points in points.values() for key, p in model_points.items()
    }
    meter, hardware = _endpoint_meter_and_hardware(serve) if serve.endpoint else (None, None)
    with SweepRun(suite, run_dir, planned, meter=meter, hardware=hardware, **options) as run:
        for card in run.cards:
            keys = run.todo(list(points[card.name]))
            if not keys:
                continue
            todo = [(points[card.name][key], key) for key in keys]
            if card.name in run.too_long:
                run.fail_all(card, keys, "context-exceeded", run.too_long[card.name])
                continue
            run.start_model()
            try:
                with _target(card, suite, run_dir, run.log) as target:
                    point = ServePointMeasurement(run, target)
                    for load, key in todo:
                        run.measure_point(card, key, partial(point.measure, card, key, load), _describe)
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


def _describe(record: dict) -> str:
    latency = record["latency_ms"]
    return (f"{record['output_tok_s']:.1f} output tok/s, TTFT p50 {latency['ttft']['median']:.0f} ms, "
            f"{record['interactivity_tok_s_user'] or float('nan'):.1f} tok/s/user, "
            f"{record['energy']['avg_power_w'] or float('nan'):.1f} W ({record['energy']['method']})")


class ServePointMeasurement:
    def __init__(self, run: SweepRun, target):
        self.run, self.target = run, target
        serve = run.suite.serve
        self.slo = Slo(serve.slo_ttft_ms, serve.slo_tpot_ms)

    def _prompts(self, card: ModelCard, count: int, stream: int) -> list:
        prompts = self.run.suite.workload.prompts(count, card.vocab_size, stream)
        if self.run.suite.serve.prompt_format == "token-ids":
            return prompts
        if not card.has_tokenizer:
            raise UserError("serve.prompt_format", f"'text' needs a tokenizer and {card.name}'s card has none",
                            "use prompt_format = 'token-ids', or a card with a tokenizer")
        tokenizer = _tokenizer(str(card.path))
        return [tokenizer.decode(p) for p in prompts]

    def _load(self, load: LoadPoint, prompts: list, osl: int, window=None):
        seed = self.run.suite.workload.seed

        async def drive():
            target = self.target
            async with CompletionsClient(target.base_url, target.model, api_key=target.api_key) as client:
                if load.kind == "concurrency":
                    return await closed_loop(client, prompts, osl, int(load.value), window)
                return await poisson(client, prompts, osl, load.value, seed, load.max_concurrency, window)

        return run_load(drive(), self.run.suite.point_timeout_s)

    def measure(self, card: ModelCard, key: str, load: LoadPoint) -> dict:
        run, workload = self.run, self.run.suite.workload
        prompts = self._prompts(card, load.num_requests, MEASURED)
        if run.suite.serve.warmup:
            warm = LoadPoint("concurrency", load.in_flight, load.in_flight)
            self._load(warm, self._prompts(card, load.in_flight, WARMUP), WARMUP_OSL)
        started_at = now()
        window = Window(run.meter)
        whole_start = run.meter.snapshot()
        result = self._load(load, prompts, workload.osl, window)
        whole_end = run.meter.snapshot()
        metrics = summarize(result.requests, self.slo)
        _save_requests(run.run_dir, key, result.requests)
        if not metrics["completed"]:
            errors = {r.error for r in result.requests if r.error}
            if self.target.exited:
                raise RuntimeError(f"the server died: its engine core is gone ({'; '.join(sorted(errors))[:200]})")
            raise RuntimeError(f"all {len(result.requests)} requests failed ({'; '.join(sorted(errors))[:300]})")
        whole = run.meter.reading(whole_start, whole_end)
        whole.flags.append("whole-point window: the measured requests, ramp-up and drain included")
        steady_s, steady_tokens, why_not = steady_window(
            result.requests, result.window_open, result.window_close,
            "; ".join(result.notes) or "the window did not open")
        record = {
            "point": key,
            "status": "ok",
            "mode": "serve",
            "started_at": started_at,
            "finished_at": now(),
            "model": card.summary(),
            "workload": workload.to_record() | {"prompt_format": run.suite.serve.prompt_format},
            "engine": self.target.describe() | {"batch_size": load.in_flight if load.kind == "concurrency" else None},
            "load": load.to_record() | {"warmup_requests": load.in_flight if run.suite.serve.warmup else 0},
            "num_requests": load.num_requests,
            **metrics,
            "throughput_window": "client clock: first measured request sent to last one finished",
            "interactivity_definition": "1000 / TPOT ms (median; p90 for the slow tail), tokens/s per user",
            "energy": whole.to_record() | {"idle_power_w": run.idle_power_w},
            "steady_state": steady_state(run.meter, window, steady_s, steady_tokens, why_not),
            # An existing endpoint's server is another process on the GPU by design.
            "validity": run.validity(
                whole, whole_start, whole_end, other_processes_matter=not run.suite.serve.endpoint,
                extra={"requests_completed": {"ok": metrics["failed"] == 0, "completed": metrics["completed"],
                                              "failed": metrics["failed"]}}),
            "requests_file": REQUESTS_FILE,
        }
        run.add_timeline(record, key, whole_start, whole_end)
        return record


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
            f.write(json.dumps({
                "point": key, "sent_s": round(r.sent - start, 6), "ok": r.ok,
                "ttft_ms": r.ttft * 1000 if r.arrivals else None, "e2e_ms": r.e2e * 1000 if r.end else None,
                "tpot_ms": r.tpot * 1000 if r.ok and r.tpot is not None else None,
                "prompt_tokens": r.prompt_tokens, "output_tokens": r.output_tokens, "chunks": len(r.arrivals),
                "error": r.error,
            }) + "\n")
