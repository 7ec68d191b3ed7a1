"""How fast this machine's host memory streams: a STREAM-style copy with the run's threads, past and within the LLC.

Host memory only (the CPU's DRAM and last-level cache), never a GPU's; numpy,
no torch. Two figures: one with a working set well past the last-level cache
(DRAM), one with a working set a quarter of it (cache), so that a model whose
weights fit in the cache has a ceiling too. The copy is split over as many
threads as the process may use (numpy releases the GIL while it copies), each
working on its own page-aligned chunk, and the best of a few timed repeats is
kept; their spread (min / median / max) and the load average before the probe
say whether other work shared the machine, and a warning says so when it did.
Bytes are counted as STREAM counts them: every byte copied is read once
and written once; the write-allocate read that a cached store may add is not
counted (a memcpy with streaming stores has none), so the true traffic may be
up to 1.5 times the counted.
"""

import math
import os
import statistics
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from bench.errors import UserError

KIB, MIB, GIB = 2**10, 2**20, 2**30
SYSFS_CPU = Path("/sys/devices/system/cpu")
CGROUP = Path("/sys/fs/cgroup")
PAGE = 4096
DRAM_LLC_MULTIPLE = 4  # DRAM working set: 4x the last-level cache (each of the two arrays twice its size)
CACHE_LLC_DIVISOR = 4  # cache working set: a quarter of the last-level cache
UNKNOWN_LLC_WORKING_SET = GIB  # DRAM working set when the cache size cannot be read
MEMORY_DIVISOR = 4  # never more than a quarter of the memory available now
MIN_REPEAT_BYTES = 256 * MIB  # bytes counted per timed repeat: a small working set is copied several times per repeat
REPEATS = 5
BUDGET_S = 3.0
# Repeats further apart than this ((max - min) / median) were not alone on the machine: on an idle one they agree
# within a few percent.
BUSY_SPREAD = 0.25


@dataclass(frozen=True)
class MemoryBandwidth:
    """Attainable host-memory bandwidth with `threads` threads, in GB/s (10^9 bytes), and how it was measured."""

    dram_gb_s: float  # working set well past the LLC (unless memory was short: see method)
    cache_gb_s: float | None  # working set a quarter of the LLC; None when the LLC size is unknown
    llc_bytes: int | None  # the last-level cache the process's CPUs share, all instances summed
    threads: int
    working_set_bytes: int  # of the DRAM probe: both arrays
    cache_working_set_bytes: int | None
    method: str
    dram_repeats: tuple[float, ...] = ()  # GB/s of each timed repeat, in order
    cache_repeats: tuple[float, ...] = ()
    load_average: float | None = None  # the 1-minute load average just before the probe
    cores: int | None = None  # the machine's logical CPUs, which the load average counts against

    def record_fields(self) -> dict:
        """The fields a run records in its hardware section (bench.run.record.HardwareInfo)."""
        return {
            "memory_bandwidth_gb_s": round(self.dram_gb_s, 2),
            "cache_bandwidth_gb_s": None if self.cache_gb_s is None else round(self.cache_gb_s, 2),
            "llc_bytes": self.llc_bytes,
            "bandwidth_threads": self.threads,
            "bandwidth_method": self.method,
        }

    def summary(self) -> str:
        """One line: both figures, then the method."""
        cache = "not probed" if self.cache_gb_s is None else f"{self.cache_gb_s:.1f} GB/s"
        return f"host DRAM {self.dram_gb_s:.1f} GB/s, last-level cache {cache} ({self.method})"

    def spread(self) -> str:
        """The repeats' min / median / max of each probe, and the load average the probe started at."""
        parts = [
            f"{name} {_spread(repeats)}"
            for name, repeats in (("DRAM", self.dram_repeats), ("cache", self.cache_repeats))
            if repeats
        ]
        if self.load_average is not None:
            parts.append(f"load average {self.load_average:.2f} on {self.cores} cores before the probe")
        return "; ".join(parts) or "not recorded"

    def busy(self) -> str | None:
        """Why the machine looks busy (repeats spread past BUSY_SPREAD, or a load average above its cores), so
        the figures are below what its memory can do; None when it looks idle."""
        reasons = [
            f"the {name} repeats spread {relative_spread(repeats):.0%} (max - min over the median, above "
            f"{BUSY_SPREAD:.0%})"
            for name, repeats in (("DRAM", self.dram_repeats), ("cache", self.cache_repeats))
            if len(repeats) > 1 and relative_spread(repeats) > BUSY_SPREAD
        ]
        if self.load_average is not None and self.cores and self.load_average > self.cores:
            reasons.append(f"the load average {self.load_average:.2f} is above its {self.cores} cores")
        if not reasons:
            return None
        return (
            f"the machine is busy: {'; '.join(reasons)}; the bandwidth is likely below what its memory can do: "
            "measure again when it is idle"
        )


@dataclass(frozen=True)
class WorkingSets:
    """How much memory each probe copies through (both arrays), and why, in words."""

    dram_bytes: int
    cache_bytes: int | None
    dram_basis: str
    cache_basis: str | None


def usable_cpus() -> int:
    """The CPUs this process may run on: the run's thread count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def allowed_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return list(range(os.cpu_count() or 1))


def available_memory(cgroup: Path = CGROUP) -> int:
    """Bytes this process may still allocate: the memory available now, or less where its cgroup (a container's
    limit, v2 or v1) leaves less room."""
    available = psutil.virtual_memory().available
    for limit, usage in (
        ("memory.max", "memory.current"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),
    ):
        try:
            room = int((cgroup / limit).read_text()) - int((cgroup / usage).read_text())
        except (OSError, ValueError):  # no such cgroup file, or "max": no limit
            continue
        available = min(available, max(room, 0))
    return available


def parse_size(text: str) -> int:
    """A sysfs cache size ("32K", "32768K", "1M", "1048576") in bytes."""
    text = text.strip().upper().removesuffix("B")
    scale = {"K": KIB, "M": MIB, "G": GIB}.get(text[-1:], 1)
    return int(text[:-1] if scale > 1 else text) * scale


def last_level_cache(cpus: Iterable[int], root: Path = SYSFS_CPU) -> int | None:
    """Bytes of last-level cache the given CPUs use: the highest-level data or unified cache, each instance once.

    An instance is told apart by the CPUs sharing it (shared_cpu_list), so two
    sockets' L3s add up and one L3 seen from two CPUs counts once. None when
    sysfs says nothing readable.
    """
    caches = {}  # (level, shared CPUs) -> bytes
    for cpu in cpus:
        for index in sorted((root / f"cpu{cpu}" / "cache").glob("index*")):
            try:
                if (index / "type").read_text().strip() == "Instruction":
                    continue
                level = int((index / "level").read_text())
                size = parse_size((index / "size").read_text())
            except (OSError, ValueError):
                continue
            try:
                shared = (index / "shared_cpu_list").read_text().strip()
            except OSError:
                shared = f"cpu{cpu}"
            caches[(level, shared)] = size
    if not caches:
        return None
    top = max(level for level, _ in caches)
    return sum(size for (level, _), size in caches.items() if level == top) or None


def working_sets(llc_bytes: int | None, threads: int, available_bytes: int) -> WorkingSets:
    """The probes' working sets: DRAM 4x the LLC (1 GiB if unknown), cache a quarter of it, both at most a quarter
    of the available memory, rounded down to whole pages per thread and array (at least one page each)."""
    unit = 2 * threads * PAGE
    cap = available_bytes // MEMORY_DIVISOR
    if llc_bytes:
        dram, basis = DRAM_LLC_MULTIPLE * llc_bytes, f"{DRAM_LLC_MULTIPLE}x the {_size(llc_bytes)} LLC"
    else:
        dram, basis = UNKNOWN_LLC_WORKING_SET, "the LLC size is unknown: a stated default"
    if dram > cap:
        dram, basis = (
            cap,
            (
                f"sized down from {_size(dram)} ({basis}) to a quarter of the {_size(available_bytes)} "
                "memory available" + (f": only {cap / llc_bytes:.1f}x the LLC, so partly cached" if llc_bytes else "")
            ),
        )
    cache, cache_basis = None, None
    if llc_bytes:
        cache, cache_basis = min(llc_bytes // CACHE_LLC_DIVISOR, cap), f"a quarter of the {_size(llc_bytes)} LLC"
        cache = max(unit, cache - cache % unit)
    return WorkingSets(max(unit, dram - dram % unit), cache, basis, cache_basis)


def relative_spread(repeats: tuple[float, ...]) -> float:
    """(max - min) / median of the repeats' GB/s."""
    return (max(repeats) - min(repeats)) / statistics.median(repeats)


def _spread(repeats: tuple[float, ...]) -> str:
    return (
        f"min {min(repeats):.1f} / median {statistics.median(repeats):.1f} / max {max(repeats):.1f} GB/s "
        f"over {len(repeats)} repeat{'s' if len(repeats) > 1 else ''}"
    )


def load_and_cores() -> tuple[float, int]:
    """The 1-minute load average and the logical CPUs it counts against (the whole machine's, as the load is)."""
    return psutil.getloadavg()[0], psutil.cpu_count() or 1


def copy_bandwidth(
    working_set: int, threads: int, repeats: int, budget_s: float, pool: ThreadPoolExecutor
) -> tuple[float, ...]:
    """GB/s of each timed repeat copying `working_set // 2` bytes from one array to another in `threads` chunks,
    counting 2 bytes per byte copied; repeats stop once `budget_s` is spent (at least one runs)."""
    half = working_set // 2
    src, dst = np.empty(half, np.uint8), np.empty(half, np.uint8)
    step = half // threads
    chunks = [(src[i * step : (i + 1) * step], dst[i * step : (i + 1) * step]) for i in range(threads)]
    list(pool.map(lambda c: (c[0].fill(1), c[1].fill(0)), chunks))  # fault the pages in, each on its own thread
    passes = math.ceil(MIN_REPEAT_BYTES / (2 * step * threads))

    def copy(chunk):
        for _ in range(passes):
            np.copyto(chunk[1], chunk[0])

    # Nanoseconds of the real clock, which a test's simulated clock (standing in for time.perf_counter) leaves be.
    timings: list[int] = []
    start = time.perf_counter_ns()
    while len(timings) < repeats and (not timings or time.perf_counter_ns() - start < budget_s * 1e9):
        t0 = time.perf_counter_ns()
        list(pool.map(copy, chunks))
        timings.append(max(time.perf_counter_ns() - t0, 1))
    return tuple(2 * step * threads * passes / ns for ns in timings)  # bytes per ns are GB/s


def measure(
    threads: int | None = None,
    repeats: int = REPEATS,
    budget_s: float = BUDGET_S,
    cpus: Iterable[int] | None = None,
    root: Path = SYSFS_CPU,
    available_bytes: int | None = None,
    load: Callable[[], tuple[float, int]] = load_and_cores,
) -> MemoryBandwidth:
    """Host-memory bandwidth with `threads` threads (default: as many as the CPUs this process may use).

    The last-level cache is that of `cpus` (default: the CPUs this process may
    use) as sysfs under `root` describes it; `available_bytes` defaults to the
    memory available now (within the process's cgroup limit).

    Repeats stop once a probe's share of `budget_s` is spent (two thirds for
    DRAM, one third for the cache; a repeat begun finishes, and at least one
    runs). A working set that would not fit in a quarter of the available
    memory is sized down, and the method says so. `load` gives the load average and the cores it counts
    against, read just before the probe.
    """
    threads = usable_cpus() if threads is None else threads
    if threads < 1 or repeats < 1 or not budget_s > 0:
        raise UserError(
            "bandwidth probe",
            f"threads {threads}, repeats {repeats} and budget {budget_s} s",
            "give at least one thread, one repeat and a positive budget",
        )
    llc = last_level_cache(allowed_cpus() if cpus is None else cpus, root)
    sets = working_sets(llc, threads, available_memory() if available_bytes is None else available_bytes)
    load_average, cores = load()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bandwidth") as pool:
        dram = copy_bandwidth(sets.dram_bytes, threads, repeats, budget_s * 2 / 3, pool)
        cache = copy_bandwidth(sets.cache_bytes, threads, repeats, budget_s / 3, pool) if sets.cache_bytes else ()
    method = (
        f"numpy copy of host memory in {threads} threads; DRAM: {_size(sets.dram_bytes)} working set "
        f"({sets.dram_basis}), best of {len(dram)}"
    )
    method += (
        f"; cache: {_size(sets.cache_bytes)} working set ({sets.cache_basis}), best of {len(cache)}"
        if cache and sets.cache_bytes is not None
        else "; cache: not probed (LLC size unknown)"
    )
    method += "; read+write bytes counted, write-allocate traffic not"
    return MemoryBandwidth(
        max(dram),
        max(cache) if cache else None,
        llc,
        threads,
        sets.dram_bytes,
        sets.cache_bytes,
        method,
        dram,
        cache,
        load_average,
        cores,
    )


def _size(n: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"
