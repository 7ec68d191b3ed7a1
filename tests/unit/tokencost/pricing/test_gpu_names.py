"""Finding a catalog entry by the name a user types or the name NVML reports."""

import re

import pytest

from bench.errors import UserError
from tokencost.pricing.catalog import find_hardware, load_catalog, normalise

CATALOG = load_catalog()
A100S = "a100-40gb-sxm, a100-80gb-sxm, a100-80gb-pcie, a100-40gb-pcie"


@pytest.mark.parametrize(
    "nvml_name, key",
    [
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("NVIDIA H100 PCIe", "h100-pcie"),
        ("NVIDIA H100 NVL", "h100-nvl"),
        ("NVIDIA H200", "h200"),
        ("NVIDIA H200 NVL", "h200-nvl"),
        ("NVIDIA GH200 480GB", "gh200"),
        ("NVIDIA B200", "b200"),
        ("NVIDIA GB200", "gb200"),
        ("NVIDIA B300", "b300"),
        ("NVIDIA A100-SXM4-80GB", "a100-80gb-sxm"),
        ("NVIDIA A100-SXM4-40GB", "a100-40gb-sxm"),
        ("NVIDIA A100 80GB PCIe", "a100-80gb-pcie"),
        ("NVIDIA A100-PCIE-40GB", "a100-40gb-pcie"),
        ("NVIDIA L4", "l4"),
        ("NVIDIA L40S", "l40s"),
        ("NVIDIA A10G", "a10g"),
        ("NVIDIA GeForce RTX 4090", "rtx-4090"),
        ("AMD Instinct MI300X", "mi300x"),
        ("AMD Instinct MI325X", "mi325x"),
        ("AMD Instinct MI355X", "mi355x"),
        ("CPU (Intel(R) Xeon(R) Processor)", "cpu-vcpu"),
        ("CPU (Intel(R) Xeon(R) Platinum 8592+)", "cpu-vcpu"),
        ("CPU (AMD EPYC 9654 96-Core Processor)", "cpu-vcpu"),
        ("CPU (AMD Ryzen 9 7950X 16-Core Processor)", "cpu-vcpu"),
    ],
)
def test_nvml_names_resolve_to_the_exact_entry(nvml_name, key):
    assert find_hardware(nvml_name, CATALOG).key == key


@pytest.mark.parametrize(
    "typed, key",
    [
        ("H100", "h100-sxm"),
        ("h100", "h100-sxm"),
        ("H100 SXM", "h100-sxm"),
        ("H100-SXM", "h100-sxm"),
        ("h100_sxm", "h100-sxm"),
        ("H100 PCIe", "h100-pcie"),
        ("h200", "h200"),
        ("H200", "h200"),
        ("nvidia h200", "h200"),
        ("H200 NVL", "h200-nvl"),
        ("B200", "b200"),
        ("gb200", "gb200"),
        ("GH200", "gh200"),
        ("mi300x", "mi300x"),
        ("MI300X", "mi300x"),
        ("A100 80GB SXM", "a100-80gb-sxm"),
        ("rtx 4090", "rtx-4090"),
        ("L40S", "l40s"),
        ("l4", "l4"),
        ("  b200  ", "b200"),
    ],
)
def test_typed_names_ignore_case_punctuation_and_vendor(typed, key):
    assert find_hardware(typed, CATALOG).key == key


@pytest.mark.parametrize(
    "name, choices",
    [("A100", A100S), ("a100", A100S), ("NVIDIA A100", A100S), ("A100 80GB", "a100-80gb-sxm, a100-80gb-pcie")],
)
def test_a_name_matching_several_entries_is_one_line_listing_them(name, choices):
    with pytest.raises(UserError) as e:
        find_hardware(name, CATALOG)
    assert str(e.value) == (
        f"hardware: {name!r} matches several catalog entries ({choices}); "
        f"give one of them, e.g. --gpu {choices.split(',')[0]}"
    )


@pytest.mark.parametrize(
    "part, not_as",
    [
        ("NVIDIA GH200 480GB", "h200"),
        ("NVIDIA GB200", "b200"),
        ("NVIDIA H200 NVL", "h200"),
        ("GH200", "h200"),
        ("GB200", "b200"),
    ],
)
def test_superchips_and_nvl_cards_are_not_priced_as_the_sxm_gpu(part, not_as):
    assert find_hardware(part, CATALOG).key != not_as


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "(",
        "[a-",
        ".*",
        "NVIDIA RTX PRO 6000",
        "NVIDIA GB300",
        "NVIDIA GH200 144G HBM3e",
        "h1\n00",
        "NVIDIA H800",
    ],
)
def test_unknown_and_hostile_names_are_one_line_errors(name):
    with pytest.raises(UserError) as e:
        find_hardware(name, CATALOG)
    message = str(e.value)
    assert "\n" not in message and message.startswith("hardware: ")
    assert "is not in the hardware catalog; supply its figures with --hardware FILE" in message or message.endswith(
        "is empty; give a catalog key (e.g. h100-sxm) or the GPU name nvidia-smi reports"
    )


def test_keys_and_aliases_name_one_entry_each_and_patterns_are_word_bounded():
    seen: dict[str, str] = {}
    for entry in CATALOG:
        for name in entry.names():
            assert seen.setdefault(name, entry.key) == entry.key, f"{name!r} names {seen[name]} and {entry.key}"
        assert entry.match.startswith(("^", r"\b")), f"{entry.key}: {entry.match}"
        re.compile(entry.match)


def test_normalise_drops_case_punctuation_and_vendor_words():
    assert normalise("NVIDIA GeForce RTX-4090") == "rtx 4090"
    assert normalise("AMD Instinct MI300X") == "mi300x"
    assert normalise("A100_SXM4 (40GB)") == "a100 sxm4 40gb"


def test_a_users_entries_win_over_shipped_ones(tmp_path):
    extra = tmp_path / "mine.toml"
    extra.write_text(
        '[my-h100]\nmatch = "H100 80GB HBM3"\ntdp_w = 650\nprice_usd = 20000\n[h200]\ntdp_w = 600\nprice_usd = 25000\n'
    )
    catalog = load_catalog(extra)
    assert find_hardware("NVIDIA H100 80GB HBM3", catalog).key == "my-h100"
    assert find_hardware("NVIDIA H200", catalog).get("price_usd") == 25000
    assert find_hardware("h200", catalog).get("price_usd") == 25000
    assert find_hardware("NVIDIA B200", catalog).key == "b200"  # the shipped entries are still there


def test_a_users_aliases_are_read_and_bad_ones_named(tmp_path):
    extra = tmp_path / "mine.toml"
    extra.write_text('[rtx-pro-6000]\naliases = ["RTX PRO 6000", "pro6000"]\ntdp_w = 600\nprice_usd = 8500\n')
    assert find_hardware("NVIDIA RTX PRO 6000", load_catalog(extra)).key == "rtx-pro-6000"
    assert find_hardware("PRO6000", load_catalog(extra)).key == "rtx-pro-6000"
    extra.write_text('[x]\naliases = "one"\ntdp_w = 1\n')
    with pytest.raises(UserError, match=r"x.aliases: is 'one'; give a list of names"):
        load_catalog(extra)
    extra.write_text('[x]\naliases = ["--"]\ntdp_w = 1\n')
    with pytest.raises(UserError, match=r"x.aliases: is \['--'\]"):
        load_catalog(extra)


def test_the_command_line_refuses_an_ambiguous_gpu_in_one_line(capsys):
    from tokencost.cli.main import main

    assert main(["quote", "--gpu", "A100", "--tok-s", "1000"]) == 2
    _, err = capsys.readouterr()
    expected = (
        f"tokencost: error: hardware: 'A100' matches several catalog entries ({A100S}); "
        "give one of them, e.g. --gpu a100-40gb-sxm"
    )
    assert err.strip().splitlines() == [expected]
    assert main(["quote", "--gpu", "NVIDIA H100 80GB HBM3", "--tok-s", "1000"]) == 0
    assert "H100 SXM5 80GB" in capsys.readouterr().out
