"""The host-memory bandwidth probe: the LLC read from sysfs, the working sets sized from it, and a real measurement.

Sizes are checked exactly; measured figures only for being positive and finite (this machine is shared and
noisy, so no timing ratio is asserted).
"""

import math

import psutil
import pytest

from bench import memory_bandwidth
from bench.errors import UserError
from bench.memory_bandwidth import (
    GIB,
    KIB,
    MIB,
    MemoryBandwidth,
    available_memory,
    last_level_cache,
    measure,
    parse_size,
    working_sets,
)
from bench.run.record import HardwareInfo


def fake_cache(root, cpu: int, index: int, level: int, kind: str, size: str, shared: str | None) -> None:
    folder = root / f"cpu{cpu}" / "cache" / f"index{index}"
    folder.mkdir(parents=True)
    (folder / "level").write_text(f"{level}\n")
    (folder / "type").write_text(f"{kind}\n")
    (folder / "size").write_text(f"{size}\n")
    if shared is not None:
        (folder / "shared_cpu_list").write_text(f"{shared}\n")


def epyc_vm(root, cpus=(0, 1), l3="32768K"):
    """Two CPUs as this machine's sysfs shows them: private L1d, L1i and L2, one L3 shared by both."""
    for cpu in cpus:
        fake_cache(root, cpu, 0, 1, "Data", "32K", str(cpu))
        fake_cache(root, cpu, 1, 1, "Instruction", "32K", str(cpu))
        fake_cache(root, cpu, 2, 2, "Unified", "1024K", str(cpu))
        fake_cache(root, cpu, 3, 3, "Unified", l3, ",".join(map(str, cpus)))
    return root


# The last-level cache, from sysfs


@pytest.mark.parametrize(
    "text, size",
    [("32K", 32 * KIB), ("32768K\n", 32 * MIB), ("1M", MIB), ("2G", 2 * GIB), ("4096", 4096), ("512KB", 512 * KIB)],
)
def test_sysfs_sizes_are_read_in_bytes(text, size):
    assert parse_size(text) == size


def test_one_l3_shared_by_both_cpus_counts_once(tmp_path):
    assert last_level_cache([0, 1], epyc_vm(tmp_path)) == 32 * MIB


def test_two_sockets_l3s_add_up(tmp_path):
    for cpu in (0, 1):
        fake_cache(tmp_path, cpu, 2, 2, "Unified", "2048K", str(cpu))
        fake_cache(tmp_path, cpu, 3, 3, "Unified", "245760K", str(cpu))  # one L3 per socket
    assert last_level_cache([0, 1], tmp_path) == 2 * 240 * MIB
    assert last_level_cache([1], tmp_path) == 240 * MIB  # only the caches of the CPUs the process may use


def test_an_instruction_cache_is_never_the_last_level_one(tmp_path):
    fake_cache(tmp_path, 0, 0, 1, "Data", "48K", "0")
    fake_cache(tmp_path, 0, 1, 4, "Instruction", "64M", "0")
    assert last_level_cache([0], tmp_path) == 48 * KIB


def test_without_a_shared_cpu_list_each_cpu_has_its_own(tmp_path):
    for cpu in (0, 1):
        fake_cache(tmp_path, cpu, 3, 3, "Unified", "8M", None)
    assert last_level_cache([0, 1], tmp_path) == 16 * MIB


def test_no_readable_cache_is_unknown(tmp_path):
    assert last_level_cache([0, 1], tmp_path) is None
    fake_cache(tmp_path, 0, 3, 3, "Unified", "lots", "0")
    assert last_level_cache([0], tmp_path) is None


# The working sets


def test_working_sets_are_4x_and_a_quarter_of_the_llc():
    sets = working_sets(32 * MIB, threads=2, available_bytes=16 * GIB)
    assert (sets.dram_bytes, sets.cache_bytes) == (128 * MIB, 8 * MIB)
    assert sets.dram_basis == "4x the 32 MiB LLC" and sets.cache_basis == "a quarter of the 32 MiB LLC"


def test_an_unknown_llc_gets_the_stated_default_and_no_cache_probe():
    sets = working_sets(None, threads=2, available_bytes=16 * GIB)
    assert (sets.dram_bytes, sets.cache_bytes, sets.cache_basis) == (GIB, None, None)
    assert sets.dram_basis == "the LLC size is unknown: a stated default"


def test_a_working_set_past_a_quarter_of_available_memory_is_sized_down_and_says_so():
    sets = working_sets(480 * MIB, threads=2, available_bytes=4 * GIB)
    assert (sets.dram_bytes, sets.cache_bytes) == (GIB, 120 * MIB)
    assert sets.dram_basis == (
        "sized down from 1.88 GiB (4x the 480 MiB LLC) to a quarter of the 4 GiB memory "
        "available: only 2.1x the LLC, so partly cached"
    )


def test_working_sets_are_whole_pages_per_thread_and_array():
    sets = working_sets(10_000_000, threads=3, available_bytes=16 * GIB)  # unit: 2 arrays x 3 threads x 4096 B
    assert (sets.dram_bytes, sets.cache_bytes) == (1627 * 24576, 101 * 24576)
    tiny = working_sets(None, threads=2, available_bytes=4096)  # never below one page per thread and array
    assert tiny.dram_bytes == 16384


@pytest.mark.parametrize(
    "files",
    [
        {"memory.max": "2147483648\n", "memory.current": "1073741824\n"},  # cgroup v2
        {"memory/memory.limit_in_bytes": "2147483648\n", "memory/memory.usage_in_bytes": "1073741824\n"},  # v1
    ],
)
def test_a_container_s_memory_limit_caps_what_is_available(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert available_memory(tmp_path) == min(GIB, psutil.virtual_memory().available)


def test_no_limit_leaves_the_memory_available(tmp_path):
    (tmp_path / "memory.max").write_text("max\n")
    (tmp_path / "memory.current").write_text("1073741824\n")
    assert 0 < available_memory(tmp_path) <= psutil.virtual_memory().total


# A real measurement


def test_a_measurement_is_positive_and_finite_and_says_how_it_was_made(tmp_path):
    found = measure(threads=2, repeats=2, budget_s=0.5, cpus=[0, 1], root=epyc_vm(tmp_path, l3="1M"))
    assert math.isfinite(found.dram_gb_s) and found.dram_gb_s > 0
    assert math.isfinite(found.cache_gb_s) and found.cache_gb_s > 0
    assert (found.llc_bytes, found.threads, found.working_set_bytes, found.cache_working_set_bytes) == (
        MIB,
        2,
        4 * MIB,
        256 * KIB,
    )
    assert found.method.startswith(
        "numpy copy of host memory in 2 threads; DRAM: 4 MiB working set (4x the 1 MiB LLC), best of "
    )
    assert "; cache: 256 KiB working set (a quarter of the 1 MiB LLC), best of " in found.method
    assert found.method.endswith("; read+write bytes counted, write-allocate traffic not")
    assert found.summary().startswith(
        f"host DRAM {found.dram_gb_s:.1f} GB/s, last-level cache {found.cache_gb_s:.1f} GB/s (numpy copy of host memory"
    )
    assert HardwareInfo(accelerator="CPU", accelerator_count=2, **found.record_fields()).llc_bytes == MIB


def test_without_an_llc_or_much_memory_it_still_measures_and_says_what_it_did(tmp_path):
    found = measure(threads=1, repeats=1, budget_s=0.1, root=tmp_path, available_bytes=64 * MIB)
    assert found.dram_gb_s > 0 and found.cache_gb_s is None and found.llc_bytes is None
    assert found.working_set_bytes == 16 * MIB
    assert (
        "DRAM: 16 MiB working set (sized down from 1 GiB (the LLC size is unknown: a stated default) to a "
        "quarter of the 64 MiB memory available), best of 1; cache: not probed (LLC size unknown)" in found.method
    )
    assert "last-level cache not probed" in found.summary()


def test_this_machine_with_the_run_s_threads():
    found = measure(repeats=1, budget_s=0.2)
    assert found.threads == memory_bandwidth.usable_cpus() >= 1
    assert found.dram_gb_s > 0 and (found.llc_bytes is None or found.llc_bytes > 0)


@pytest.mark.parametrize("options", [{"threads": 0}, {"repeats": 0}, {"budget_s": 0.0}])
def test_a_probe_of_nothing_is_refused_in_one_line(options):
    with pytest.raises(UserError, match="^bandwidth probe: ") as error:
        measure(**options)
    assert "\n" not in str(error.value)


# The repeats' spread and the busy warning, from given timings (nothing timed here)


def probed(dram, cache=(), load=(0.2, 2)) -> MemoryBandwidth:
    """A probe's result as measure() builds it, from given GB/s per repeat and load average."""
    return MemoryBandwidth(
        max(dram), max(cache) if cache else None, MIB, 2, 4 * MIB, MIB // 4, "m", tuple(dram), tuple(cache), *load
    )


def test_an_idle_machine_reports_its_spread_and_no_warning():
    found = probed((36.0, 35.5, 36.2, 35.9, 36.1), (98.0, 99.1))
    assert found.spread() == (
        "DRAM min 35.5 / median 36.0 / max 36.2 GB/s over 5 repeats; cache min 98.0 / median 98.5 / max 99.1 GB/s "
        "over 2 repeats; load average 0.20 on 2 cores before the probe"
    )
    assert found.busy() is None


def test_repeats_far_apart_say_the_machine_is_busy():
    found = probed((0.5, 2.1, 9.8, 10.0, 10.1))  # another job took the memory bus for most of the probe
    assert found.dram_gb_s == 10.1
    assert found.busy() == (
        "the machine is busy: the DRAM repeats spread 98% (max - min over the median, above 25%); the bandwidth is "
        "likely below what its memory can do: measure again when it is idle"
    )


def test_a_load_average_above_the_cores_says_the_machine_is_busy_even_with_steady_repeats():
    found = probed((0.50, 0.51, 0.50), load=(6.52, 2))
    assert "the load average 6.52 is above its 2 cores" in found.busy()
    assert probed((0.50, 0.51, 0.50), load=(2.0, 2)).busy() is None  # as many runnable tasks as cores: not above


def test_one_repeat_has_no_spread_to_judge():
    found = probed((0.5,))
    assert found.busy() is None and found.spread().startswith("DRAM min 0.5 / median 0.5 / max 0.5 GB/s over 1 repeat;")


def test_measure_keeps_the_best_repeat_and_every_repeat_and_the_load(tmp_path, monkeypatch):
    timings = {4 * MIB: (9.0, 10.0, 0.5), 256 * KIB: (40.0, 41.0)}  # GB/s per repeat, by working set
    monkeypatch.setattr(memory_bandwidth, "copy_bandwidth", lambda working_set, *args: timings[working_set])
    found = measure(threads=2, cpus=[0, 1], root=epyc_vm(tmp_path, l3="1M"), load=lambda: (3.5, 2))
    assert (found.dram_gb_s, found.cache_gb_s) == (10.0, 41.0)
    assert (found.dram_repeats, found.cache_repeats, found.load_average, found.cores) == (
        (9.0, 10.0, 0.5),
        (40.0, 41.0),
        3.5,
        2,
    )
    assert "best of 3; cache: 256 KiB working set (a quarter of the 1 MiB LLC), best of 2" in found.method
    assert "DRAM repeats spread 106%" in found.busy() and "load average 3.50 is above its 2 cores" in found.busy()
