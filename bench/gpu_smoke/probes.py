"""The GPU side of the smoke test (bench.gpu_smoke): probes run in a child process, each printing one JSON
line for the smoke test to judge.

    python -m bench.gpu_smoke.probes {harness-gpus,period,power,fork}

They need a real NVIDIA GPU, and torch where a load runs. They build the project's own meter and sampler,
so they exercise the code a run uses.
"""

import json
import multiprocessing
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

from bench.energy.gpus import engine_gpus, visible_gpus
from bench.energy.meters import NvmlMeter
from bench.energy.sampler import PowerSampler
from bench.gpu_smoke.smoke import counter_vs_sampled, update_period

FORKS = 50
JOIN_TIMEOUT_S = 10.0
MAX_HANGS = 3  # enough to FAIL; stopping there bounds the probe's time


def emit(values: object) -> None:
    print(json.dumps(values), flush=True)


@contextmanager
def bf16_load(warmup_s: float = 1.0):
    """8192^3 bf16 matmuls on cuda:0 in a thread while the body runs, after `warmup_s` for clocks and power."""
    import torch

    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    stop = threading.Event()

    def work():
        while not stop.is_set():
            for _ in range(10):
                a @ a
            torch.cuda.synchronize()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    time.sleep(warmup_s)
    try:
        yield
    finally:
        stop.set()
        thread.join()


def period_probe(seconds: float = 2.0) -> dict:
    """How often the energy counter of cuda:0 changes, idle and under load (NVML read directly)."""
    import pynvml
    import torch

    pynvml.nvmlInit()
    uuid = f"GPU-{torch.cuda.get_device_properties(0).uuid}"  # the GPU the load runs on
    handle = pynvml.nvmlDeviceGetHandleByUUID(uuid)

    def read():
        return pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)

    idle = update_period(read, seconds)
    with bf16_load():
        load = update_period(read, seconds)
    return {"gpu": uuid, "idle": idle, "load": load}


def need_gpus(devices: list) -> None:
    if not devices:
        raise RuntimeError("no NVIDIA GPU is visible to NVML")


def power_probe(meter, window_s: float = 8.0) -> dict:
    """The meter's counter against its sampler (polling as in a run) over one window of bf16 load."""
    need_gpus(meter.devices)
    meter.start()
    try:
        with bf16_load(warmup_s=2.0):
            return counter_vs_sampled(meter, time.sleep, window_s)
    finally:
        meter.stop()


def _answer(work, send) -> None:
    """In a forked child: do the work and say how it went."""
    try:
        work()
        send.send("ok")
    except Exception as e:  # noqa: BLE001 - any failure is the finding
        send.send(f"{type(e).__name__}: {e}")


def nvml_read(uuid: str):
    """What vLLM's forked engine does first: initialise NVML and read a GPU."""

    def work():
        import pynvml

        pynvml.nvmlInit()
        pynvml.nvmlDeviceGetTotalEnergyConsumption(pynvml.nvmlDeviceGetHandleByUUID(uuid))

    return work


def fork_probe(
    sampler, forks: int = FORKS, join_timeout_s: float = JOIN_TIMEOUT_S, max_hangs: int = MAX_HANGS, work=None
) -> dict:
    """Fork children that do `work` (an NVML read) while `sampler` polls NVML in its thread; count hangs."""
    need_gpus(sampler.devices)
    work = work or nvml_read(sampler.devices[0].uuid)
    context = multiprocessing.get_context("fork")
    started, hangs, errors = 0, 0, []
    sampler.start()
    try:
        while started < forks and hangs < max_hangs:
            receive, send = context.Pipe(duplex=False)
            child = context.Process(target=_answer, args=(work, send))
            child.start()
            started += 1
            child.join(join_timeout_s)
            if child.is_alive():
                hangs += 1
                child.kill()
                child.join(5)
            elif receive.poll(1):
                if (answer := receive.recv()) != "ok":
                    errors.append(answer)
            else:
                errors.append(f"exit {child.exitcode} without an answer")
            receive.close()
            send.close()
    finally:
        sampler.stop()
    return {
        "forks": started,
        "hangs": hangs,
        "error_count": len(errors),
        "errors": errors[:5],
        "sampler_interval_s": sampler.interval_s,
        "samples": len(sampler.samples),
    }


PROBES: dict[str, Callable[[], object]] = {
    "harness-gpus": lambda: [d.uuid for d in visible_gpus()],
    "period": period_probe,
    "power": lambda: power_probe(NvmlMeter(engine_gpus(1).engine)),
    "fork": lambda: fork_probe(PowerSampler(engine_gpus(1).engine, interval_s=0.002)),
}


if __name__ == "__main__":
    emit(PROBES[sys.argv[1]]())
