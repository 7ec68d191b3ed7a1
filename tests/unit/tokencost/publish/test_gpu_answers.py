"""The GPU table's seed answers (every preset, both token bases, assumptions beside each verdict), its precision arms
side by side, and the peers' rows in tables of their own with provenance and projected/measured."""

import json
import re

import pandas as pd
import pytest

from bench.errors import UserError
from bench.inputs.precision import Precision
from tests.support import REPO
from tokencost.analysis.calibration import shipped_calibrations
from tokencost.analysis.projection import project
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.hourly import hourly_cost
from tokencost.pricing.priced_runs import Pricing
from tokencost.publish.gpu_precisions import BF16_OVER_THIS
from tokencost.publish.gpu_table import PROJECTED_FILE, read_inputs
from tokencost.publish.gpu_tiers import PAIRS
from tokencost.publish.peer_tables import INFERENCEX, MLPERF, PEERS, SHIPPED, SOURCES, peer_rows
from tokencost.publish.seed_answers import _verdict

PUBLISHED = REPO / "results" / "gpu-cost-table"
ANSWERS = [
    "Are chips 60-70 % of the cost?",
    "H100 against A100 per token",
    "B200 in FP4 against H100 in FP8",
    "MoE against dense",
    "Is $0.10 per million tokens reached?",
    "Self-hosting against API prices, like for like",
]
PROVENANCE = ["source", "source_commit", "date", "engine", "precision", "hardware", "accelerator_count", "scenario"]


@pytest.fixture(scope="module")
def rebuilt(rebuilt_gpu_table):
    return rebuilt_gpu_table


@pytest.fixture(scope="module")
def sections(rebuilt) -> dict[str, str]:
    """The report's sections by their '## ' heading."""
    parts = re.split(r"^## ", (rebuilt / "report.md").read_text(), flags=re.M)
    return {part.split("\n", 1)[0]: part for part in parts[1:]}


def rows_of(section: str, first_cell: str) -> list[str]:
    return [line for line in section.splitlines() if line.startswith(f"| {first_cell} ")]


@pytest.mark.parametrize("title", ANSWERS)
def test_each_answer_states_its_workload_batch_rule_power_and_token_basis(sections, title):
    basis = [line for line in sections[title].splitlines() if line.startswith("*Basis: workload")]
    assert basis and all(all(w in line for w in ("batch rule", "; power", "; tokens")) for line in basis)


@pytest.mark.parametrize("title", ANSWERS[:3])
def test_each_gpu_answer_is_given_under_every_preset_with_the_presets_assumptions(rebuilt, sections, title):
    inputs = read_inputs(rebuilt)
    for preset in inputs.presets:
        rows = rows_of(sections[title], preset)
        assert rows, (title, preset)
        owned = load_assumptions(preset).ownership == "owned"
        assert all(("cost of capital" if owned else "of paid hours serving") in row for row in rows), rows


def test_chips_share_is_counted_without_and_with_the_server(sections):
    a, entry = load_assumptions("hyperscaler-owned"), find_hardware("h100-sxm", load_catalog())
    cost = hourly_cost(1, entry, entry.tdp_w, a)
    with_server = cost.capital / cost.total
    gpu_only = with_server * entry.get("price_usd") / (entry.get("price_usd") + entry.get("server_share_usd"))
    (row,) = [r for r in rows_of(sections[ANSWERS[0]], "hyperscaler-owned") if "| h100-sxm " in r]
    cells = [c.strip() for c in row.split("|")]
    assert cells[3:5] == [f"{gpu_only:.0%}", f"{with_server:.0%}"] and gpu_only < with_server
    assert all("not answerable" in r for r in rows_of(sections[ANSWERS[0]], "on-demand-rental"))


def test_h100_in_fp8_is_set_against_the_a100_in_bf16_and_its_band_labelled_as_assumed(rebuilt, sections):
    section = sections[ANSWERS[1]]
    for preset in read_inputs(rebuilt).presets:
        arms = [r for r in rows_of(section, preset) if "a100-80gb-sxm BF16 over h100-sxm FP8" in r]
        assert len(arms) == 1 and re.search(r"\*\*(yes|no|within the bands|n/a)\*\*", arms[0]), arms
    assert "UNCALIBRATED, not validated" in section and "weight-only" in section


@pytest.mark.parametrize(
    ("ratio", "first", "second", "claim", "verdict"),
    [
        (1.94, 0.16, 0.16, 3.0, "no"),  # H100 BF16 against A100 BF16, owned: under 3x across both bands
        (2.47, 0.32, 0.16, 3.0, "within the bands"),  # FP8's wider band reaches 3x
        (4.0, 0.1, 0.1, 3.0, "yes"),
        (0.84, 1.0, 0.32, 1.0, "within the bands"),  # a band of 100 % or more decides nothing
    ],
)
def test_a_verdict_holds_across_both_arms_bands(ratio, first, second, claim, verdict):
    assert _verdict(ratio, first, second, claim) == verdict


def test_moe_against_dense_names_each_pair_quality_matched_or_not_with_its_source(rebuilt, sections):
    section = sections["MoE against dense"]
    for (moe, dense), (verdict, why) in PAIRS.items():
        assert f"- {moe} and {dense}: quality-matched: **{verdict}**" in section and "source: " in why
    header = next(line for line in section.splitlines() if line.startswith("| MoE ") and "GPUs " in line)
    assert all(f" {preset} " in header for preset in read_inputs(rebuilt).presets)


def test_ten_cents_is_answered_per_preset_class_precision_token_basis_and_utilisation(rebuilt, sections):
    section, inputs = sections[ANSWERS[4]], read_inputs(rebuilt)
    for preset in inputs.presets:
        part = section.split(f"### '{preset}'")[1].split("###")[0]
        header = next(line for line in part.splitlines() if line.startswith("| model class"))
        for column in (
            "output, 100% busy",
            "output, 50% busy",
            "input + output, 100% busy",
            "input + output, 50% busy",
        ):
            assert column in header
        assert {p.name for p in inputs.precisions} <= set(re.findall(r"^\| [^|]+\| (\w+) ", part, flags=re.M))


def test_the_api_comparison_sets_a_rental_at_a_stated_utilisation_beside_the_owned_floor(sections):
    section = sections[ANSWERS[5]]
    header = next(line for line in section.splitlines() if line.startswith("| API "))
    assert "owned floor ('owned', 100 % busy)" in header and "rented on demand, 50% busy, ix-30" in header


def test_bf16_and_fp8_sit_side_by_side_with_the_bf16_ratio(rebuilt):
    projected = pd.read_csv(rebuilt / PROJECTED_FILE)
    h100 = projected[projected["hardware"] == "h100-sxm"]
    keys = ["model", "accelerator_count", "isl", "osl", "batch_size"]
    both = h100[h100["precision"] == "bf16"].merge(h100[h100["precision"] == "fp8"], on=keys, suffixes=("", "_fp8"))
    assert len(both) > 100
    # FP8's band is twice BF16's in the point's BF16 regime; FP8 weights leave room for more sequences, so at a
    # batch near either KV limit the two rows of one batch can sit in different regimes.
    alike = both[both["batch_size"] < 0.9 * both[["max_batch", "max_batch_fp8"]].min(axis=1)]
    assert len(alike) > 50
    assert alike["error_band_fp8"].to_numpy() == pytest.approx(2 * alike["error_band"].to_numpy())
    factor = shipped_calibrations()["h100-sxm"].precision_factor["fp8"]
    assert both["label_fp8"].str.contains(f"fp8 efficiency = BF16's x {factor:.2f}, fitted on one published").all()
    assert both["band_basis_fp8"].str.contains("ASSUMED").all()
    expected = both["usd_per_m_total owned"] / both["usd_per_m_total owned_fp8"]
    assert both[f"{BF16_OVER_THIS}_fp8"].to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-4)
    assert set(projected.loc[projected["precision"] == "fp4", "hardware"]) == {"b200"}  # FP4 needs Blackwell
    report = (rebuilt / "report.md").read_text()
    assert re.search(r"^- h100-sxm, fp4: .* has no FP4 tensor cores", report, flags=re.M)


def test_the_summary_sets_each_precision_beside_bf16(rebuilt):
    lines = [line for line in (rebuilt / "summary.md").read_text().splitlines() if line.startswith("| qwen3-8b ")]
    h100 = [line for line in lines if "| h100-sxm " in line]
    assert [re.split(r"\s*\|\s*", line)[4] for line in h100[:2]] == ["bf16", "fp8"]
    assert re.search(r"\| +\|$", h100[0]) and re.search(r"\| \d\.\d\dx +\|$", h100[1])  # BF16/this at floor


def test_the_peers_rows_are_tables_of_their_own_with_their_provenance(rebuilt, sections):
    projected = pd.read_csv(rebuilt / PROJECTED_FILE)
    assert set(projected["basis"]) == {"projected"}
    for peer in PEERS:
        rows = pd.read_csv(rebuilt / peer.file)
        assert len(rows) and set(rows["basis"]) == {peer.basis}
        assert rows[PROVENANCE + ["token_definition"]].notna().all().all()
        assert rows["projection"].notna().all()  # projected/measured, or why no projection covers the point
        heading = sections[peer.basis[0].upper() + peer.basis[1:]].split("\n\n")[1]
        assert "never ranked with the projections" in heading
        assert all(w in heading for w in ("workload", "batch rule", "power", "tokens", "Sources:", "@"))
    mlperf = pd.read_csv(rebuilt / MLPERF.file)
    assert (mlperf["projection"] == "prompt lengths not published").all()


def test_projected_over_measured_where_a_projection_covers_the_point(rebuilt, tmp_path):
    """A real InferenceX row, edited to a model, GPU count and precision tokencost projects (marked here as an
    edit, never shipped), gets tokencost's projection at its concurrency beside its measured rate."""
    (tmp_path / SOURCES).write_text((SHIPPED / SOURCES).read_text())
    name = "inferencex-run_20218553330.json"
    rows = json.loads((SHIPPED / name).read_text())[:1]
    rows[0] |= {"model": "meta-llama/Llama-3.1-8B", "hw": "h100", "tp": 1, "precision": "fp8", "conc": 32}
    (tmp_path / name).write_text(json.dumps(rows))
    inputs, catalog = read_inputs(rebuilt), load_catalog()
    tables = peer_rows(inputs, catalog, tmp_path)
    assert tables[MLPERF].empty
    (row,) = tables[INFERENCEX].to_dict("records")
    pricing = Pricing.of(load_assumptions(inputs.main_preset), catalog)
    table, _ = project("llama-3.1-8b", "h100-sxm", 1, [32], 1024, 1024, pricing, precision=Precision(weights="fp8"))
    expected = table["projected_output_tok_s"].iloc[0] / (rows[0]["output_tput_per_gpu"] * 1)
    assert row["model"] == "llama-3.1-8b" and row["projected_over_measured"] == pytest.approx(expected)
    assert row["projection"].startswith("projected at batch 32, fp8")


@pytest.mark.parametrize(
    ("precisions", "problem"), [('["fp9"]', "'fp9' is not a precision arm"), ('["fp8", "fp8"]', "lists 'fp8' twice")]
)
def test_a_bad_precision_in_the_inputs_is_one_line(tmp_path, precisions, problem):
    text = (PUBLISHED / "inputs.toml").read_text().split("precisions")[0] + f"precisions = {precisions}\n"
    (tmp_path / "inputs.toml").write_text(text)
    with pytest.raises(UserError, match=rf"table.precisions: {problem}"):
        read_inputs(tmp_path)
