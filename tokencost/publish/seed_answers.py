"""The seed questions answered from the GPU table, each under every preset, each with its assumptions beside it.

Every answer is a table whose heading states its basis (workload, batch rule, power source, token basis) and whose
rows carry the preset and the assumptions the verdict turns on: the chips' share as GPU-only and with the server's
share; H100 against A100 under owned and rented prices, in BF16 and with the H100 in FP8; B200 in FP4 against H100
in FP8; $0.10 per million tokens per model class, token basis, utilisation and precision; and the API comparison
like for like (a rental at a stated utilisation beside the owned floor). All numbers are projected.
"""

import pandas as pd

from bench.errors import UserError
from bench.inputs.cards import load_card
from tokencost.analysis.service_level import FLOOR, NOT_REACHABLE
from tokencost.pricing.api_prices import blended_per_mtok, in_force, load_api_prices
from tokencost.pricing.assumptions import Assumptions, load_assumptions
from tokencost.pricing.catalog import find_hardware
from tokencost.pricing.hourly import hourly_cost
from tokencost.publish.document import number
from tokencost.publish.gpu_tiers import PAIRS, usd

TEN_CENTS = 0.10
CHIP_SHARE = (0.60, 0.70)
UTILISATIONS = (1.0, 0.5)
TIER = "ix-30"  # the service level the API comparison and the GPU comparisons are also answered at
RENTAL_PRESET, RENTAL_UTILISATION = "on-demand-rental", 0.5
GPT4_LAUNCH = "gpt-4-launch"
PROJECTED_BASIS = (
    "projected by tokencost (not measured), fixed ISL/OSL, power at TDP (estimated), $/M input + output tokens"
)


def basis(workload: str, batch_rule: str, power: str, tokens: str) -> str:
    """A table's heading: its workload, batch rule, power source and token basis, always all four."""
    return f"*Basis: workload {workload}; batch rule {batch_rule}; power {power}; tokens {tokens}.*"


def assumptions_of(a: Assumptions) -> str:
    """What a preset's $/hour turns on, in one line."""
    if a.ownership == "rented":
        rate = "its own rate table" if a.rate == "rates" else f"the catalog's {a.rate.removesuffix('_usd_per_hour')}"
        return f"rented at {rate} per GPU-hour, {a.utilization:.0%} of paid hours serving"
    server = "GPU + server share" if a.include_server_share else "GPU only"
    return (
        f"owned ({server}), {number(a.life_years)} years, cost of capital {a.cost_of_capital:.0%}, "
        f"{a.utilization:.0%} of hours serving, ${number(a.usd_per_kwh)}/kWh, PUE {number(a.pue)}, "
        f"{a.power_boundary} power boundary, hosting ${number(a.hosting_usd_per_kw_month)}/kW-month"
    )


def _hourly(gpu: str, count: int, a: Assumptions, catalog) -> float:
    """$/hour of `count` GPUs at TDP under `a`; NaN where the preset has no price or rate for the GPU."""
    entry = find_hardware(gpu, catalog)
    try:
        return hourly_cost(count, entry, count * entry.tdp_w, a).total
    except UserError:  # a rate or price the catalog or preset lacks: not priced there
        return float("nan")


def _band_text(bands: pd.Series) -> str:
    return "/".join(f"+/-{b:.0%}" for b in sorted(bands.dropna().unique()))


# --- Are chips 60-70 % of the cost? ---------------------------------------------------------------------------


def chip_share(inputs, catalog) -> list[str]:
    """The GPUs' share of an hour of serving, without and with the server's share, per owned preset and GPU."""
    rows = []
    for preset in inputs.presets:
        a = load_assumptions(preset)
        for gpu in inputs.gpus:
            entry = find_hardware(gpu, catalog)
            if a.ownership == "rented":
                rows.append(
                    {"preset": preset, "GPU": gpu, "GPU only": "n/a", "GPU + server share": "n/a"}
                    | {"60-70 %?": "not answerable: the rate hides the chip's share", "assumptions": assumptions_of(a)}
                )
                continue
            cost = hourly_cost(1, entry, entry.tdp_w, a)
            price, server = entry.get("price_usd") or 0.0, entry.get("server_share_usd") or 0.0
            with_server = cost.capital / cost.total
            gpu_only = with_server * price / (price + server) if a.include_server_share and price + server else 0.0
            verdicts = [("yes" if CHIP_SHARE[0] <= s <= CHIP_SHARE[1] else "no") for s in (gpu_only, with_server)]
            rows.append(
                {
                    "preset": preset,
                    "GPU": gpu,
                    "GPU only": f"{gpu_only:.0%}",
                    "GPU + server share": f"{with_server:.0%}",
                    "60-70 %?": f"GPU only: **{verdicts[0]}**; with the server: **{verdicts[1]}**",
                    "assumptions": f"GPU ${number(price)}, server share ${number(server)} (catalog); "
                    + assumptions_of(a),
                }
            )
    return [
        "## Are chips 60-70 % of the cost?",
        "",
        basis(
            "none (an hour of one busy GPU)",
            "none",
            "TDP (estimated) at the preset's power boundary",
            "none: shares of $/hour, so of $/M at any throughput",
        ),
        "",
        "The GPUs' capital as a share of an hour of serving, counting the GPU's price alone and the GPU with its "
        "share of the server (CPUs, memory, NICs, chassis: `server_share_usd` in the catalog). The share turns on "
        "what else the preset pays: 'owned' has no financing, hosting or idle hours, so capital dominates.",
        "",
        pd.DataFrame(rows).to_markdown(index=False),
        "",
    ]


# --- GPU against GPU, per precision ---------------------------------------------------------------------------


def _arm_ratio(levels: pd.DataFrame, cheaper: tuple[str, str], dearer: tuple[str, str], cost: str, tier: str):
    """dearer $/M over cheaper $/M per model and shape at `tier`, each on its own cheapest GPU count and batch;
    (median, min, max, points) or None where no model has both. (`cheaper` and `dearer` name the order of the
    ratio, not which arm is found cheaper.)"""
    at = levels[(levels["tier"] == tier) & (levels["status"] != NOT_REACHABLE)]
    keys = ["model", "isl", "osl"]

    def arm(gpu_precision: tuple[str, str]) -> pd.DataFrame:
        gpu, precision = gpu_precision
        return at[(at["hardware"] == gpu) & (at["precision"] == precision)][[*keys, cost]]

    both = arm(cheaper).merge(arm(dearer), on=keys, suffixes=("_a", "_b")).dropna()
    if both.empty:
        return None
    ratio = both[f"{cost}_b"] / both[f"{cost}_a"]
    return ratio.median(), ratio.min(), ratio.max(), len(ratio)


def _ratio_text(found) -> str:
    if found is None:
        return "n/a (no price for one of the GPUs, or no shared model)"
    median, low, high, n = found
    return f"{median:.2f}x ({low:.2f}x to {high:.2f}x, {n} points)"


def _verdict(median: float, first_band: float, second_band: float, claim: float) -> str:
    """Whether a ratio of $/M (second over first) is at least `claim` across both arms' bands: the second arm's
    cost is throughput-bound, so its band widens the ratio by (1 +/- b1) / (1 -/+ b2)."""
    low = median * (1 - first_band) / (1 + second_band)
    high = median * (1 + first_band) / (1 - second_band) if second_band < 1 else float("inf")
    return "yes" if low >= claim else "no" if high < claim else "within the bands"


def gpu_against_gpu(
    levels: pd.DataFrame,
    projected: pd.DataFrame,
    inputs,
    title: str,
    pairs: list[tuple[tuple[str, str], tuple[str, str]]],
    question: tuple[str, float],
) -> list[str]:
    """Per preset and arm pair, the second arm's $/M over the first's at the batch floor and at TIER, each model
    on its own cheapest GPU count and batch; the verdict sets the median, within both arms' bands, against the
    question's ratio."""
    asked, claim = question
    rows = []
    for preset in inputs.presets:
        cost = f"usd_per_m_total {preset}"
        for first, second in pairs:
            floor = _arm_ratio(levels, first, second, cost, FLOOR)
            tiered = _arm_ratio(levels, first, second, cost, TIER)
            bands = {
                f"{gpu} {precision}": projected.loc[
                    (projected["hardware"] == gpu) & (projected["precision"] == precision), "error_band"
                ]
                for gpu, precision in (first, second)
            }
            widest = [b.max() if not b.dropna().empty else float("nan") for b in bands.values()]
            verdicts = {_verdict(f[0], widest[0], widest[1], claim) for f in (floor, tiered) if f is not None}
            verdict = "n/a" if not verdicts else verdicts.pop() if len(verdicts) == 1 else "depends on the tier"
            rows.append(
                {
                    "preset": preset,
                    "arms": f"{second[0]} {second[1].upper()} over {first[0]} {first[1].upper()}",
                    "batch floor": _ratio_text(floor),
                    TIER: _ratio_text(tiered),
                    asked: f"**{verdict}**",
                    "assumptions": f"{assumptions_of(load_assumptions(preset))}; bands: "
                    + ", ".join(f"{arm} {_band_text(band)}" for arm, band in bands.items()),
                }
            )
    return [
        f"## {title}",
        "",
        basis(
            f"ISL/OSL {', '.join(f'{i}/{o}' for i, o in inputs.shapes)}, fixed lengths, each model the two arms share",
            f"each arm on its own cheapest GPU count and batch, with no latency limit (batch floor) and at {TIER}",
            "TDP (estimated)",
            "$/M input + output tokens, projected; a ratio above 1: the second arm's tokens cost more",
        ),
        "",
        pd.DataFrame(rows).to_markdown(index=False),
        "",
        "Bands: BF16's is the calibration's held-out error (borrowed where the GPU has no calibration of its own); "
        "FP8's and FP4's are assumed, twice BF16's: UNCALIBRATED, not validated (as each row of costs.csv says). "
        "FP8 on the A100 is weight-only (read in FP8, multiplied in BF16: it has no FP8 tensor cores).",
        "",
    ]


def h100_vs_a100(levels: pd.DataFrame, projected: pd.DataFrame, inputs) -> list[str]:
    h100, a100 = "h100-sxm", "a100-80gb-sxm"
    precisions = {p.name for p in inputs.precisions}
    if not {h100, a100} <= set(inputs.gpus):
        return ["## H100 against A100 per token", "", "Not answerable: inputs.toml lists not both GPUs.", ""]
    pairs = [((h100, "bf16"), (a100, "bf16"))]
    if "fp8" in precisions:
        pairs += [((h100, "fp8"), (a100, "bf16")), ((h100, "fp8"), (a100, "fp8"))]
    question = ("A100 $/M 3x the H100's, within the bands?", 3.0)
    lines = gpu_against_gpu(levels, projected, inputs, "H100 against A100 per token", pairs, question)
    return lines + [
        "The 3x often quoted compares H100 FP8 math with A100 BF16 math, where both are compute-bound; decode is "
        "bound by memory bandwidth, where the H100's edge is 3.35/2.04 = 1.6x at 1.75x the power, and FP8 halves "
        "the bytes a token reads.",
        "",
    ]


def b200_fp4_vs_h100_fp8(levels: pd.DataFrame, projected: pd.DataFrame, inputs, catalog) -> list[str]:
    title = "B200 in FP4 against H100 in FP8"
    precisions = {p.name for p in inputs.precisions}
    missing = [gpu for gpu in ("b200", "h100-sxm") if gpu not in inputs.gpus]
    missing += [f"the {p} precision" for p in ("fp4", "fp8") if p not in precisions]
    if missing:
        return [f"## {title}", "", f"Not answerable: inputs.toml lists not {', '.join(missing)}.", ""]
    if find_hardware("b200", catalog).get("fp4_tflops") is None:
        return [f"## {title}", "", "Not answerable: the catalog gives the B200 no FP4 peak.", ""]
    question = ("B200 FP4 cheaper per token, within the bands?", 1.0)
    return gpu_against_gpu(levels, projected, inputs, title, [(("b200", "fp4"), ("h100-sxm", "fp8"))], question)


# --- MoE against dense, under every preset ---------------------------------------------------------------------


def moe_vs_dense_presets(levels: pd.DataFrame, inputs, shape: tuple[int, int]) -> list[str]:
    """Dense $/M over MoE $/M at the batch floor per pair and GPU, one column per preset, BF16, each model on its
    own cheapest GPU count and batch."""
    isl, osl = shape
    floors = levels[
        (levels["tier"] == FLOOR) & (levels["isl"] == isl) & (levels["osl"] == osl) & (levels["precision"] == "bf16")
    ].set_index(["model", "hardware"])
    rows = []
    for (moe, dense), (verdict, _) in PAIRS.items():
        for gpu in inputs.gpus:
            if (moe, gpu) not in floors.index or (dense, gpu) not in floors.index:
                continue
            m, d = floors.loc[(moe, gpu)], floors.loc[(dense, gpu)]
            counts = f"{d['accelerator_count']:.0f} vs {m['accelerator_count']:.0f} GPUs"
            cells = {}
            for preset in inputs.presets:
                cost = f"usd_per_m_total {preset}"
                cells[preset] = "n/a" if pd.isna(m[cost]) or pd.isna(d[cost]) else f"{d[cost] / m[cost]:.2f}x"
            rows.append({"MoE": moe, "dense": dense, "quality-matched": verdict, "GPU": gpu, "GPUs": counts} | cells)
    return [
        basis(
            f"ISL/OSL {isl}/{osl}, fixed lengths, BF16",
            "each model on its own cheapest GPU count and batch with no latency limit (batch floor)",
            "TDP (estimated)",
            "dense $/M over MoE $/M, input + output tokens, projected",
        ),
        "",
        "Under every preset (columns; each preset's assumptions are in the chips' section above). On one node a "
        "preset's $/hour at TDP is proportional to the GPU count, so each model's cheapest point, and the ratio, "
        "are the same under every preset that prices the GPU; one without a price for it gives n/a.",
        "",
        pd.DataFrame(rows).to_markdown(index=False),
        "",
    ]


# --- $0.10 per million tokens ---------------------------------------------------------------------------------


def model_class(model: str) -> str:
    """A model's class: dense or MoE, up to 10B parameters in all or more (active parameters given for MoE)."""
    card = load_card(model)
    size = "up to 10B" if card.params.total <= 10e9 else "over 10B"
    return f"{'MoE' if card.kind == 'moe' else 'dense'}, {size} parameters"


def _cheapest_at(projected: pd.DataFrame, a: Assumptions, catalog, tokens: str) -> pd.Series | None:
    """The cheapest row by $/M of `tokens` ('output' or 'total') under `a`; None where nothing is priced."""
    hourly = {
        (gpu, count): _hourly(gpu, count, a, catalog)
        for gpu, count in projected[["hardware", "accelerator_count"]].drop_duplicates().itertuples(index=False)
    }
    per_hour = pd.Series(
        [hourly[g, c] for g, c in zip(projected["hardware"], projected["accelerator_count"])], index=projected.index
    )
    cost = per_hour / (projected[f"{tokens}_tok_s"] * 3600 / 1e6)
    if cost.dropna().empty:
        return None
    row = projected.loc[cost.idxmin()].copy()
    row["cost"] = cost.min()
    return row


def _ten_cents_cell(row: pd.Series | None) -> str:
    if row is None:
        return "n/a (not priced)"
    band = row["error_band"]
    low, high = row["cost"] / (1 + band), row["cost"] / (1 - band) if band < 1 else float("inf")
    verdict = "yes" if high <= TEN_CENTS else "within the band" if low <= TEN_CENTS else "no"
    dearest = usd(high) if high < float("inf") else f"unbounded: band +/-{band:.0%}"
    return (
        f"**{verdict}**: {usd(row['cost'])} ({usd(low)} to {dearest}; {row['model']}, "
        f"{row['accelerator_count']:.0f}x{row['hardware']}, batch {row['batch_size']:.0f}, "
        f"{row['isl']:.0f}/{row['osl']:.0f})"
    )


def ten_cents(projected: pd.DataFrame, inputs, catalog) -> list[str]:
    classes = projected["model"].map({m: model_class(m) for m in projected["model"].unique()})
    lines = [
        f"## Is ${TEN_CENTS:.2f} per million tokens reached?",
        "",
        basis(
            f"ISL/OSL {', '.join(f'{i}/{o}' for i, o in inputs.shapes)}, fixed lengths",
            "the cheapest projected GPU count and batch of the class, with no latency limit (a batch-processing "
            "floor, not a chat service's price)",
            "TDP (estimated)",
            "per column: output tokens (the whole hour charged to them) or input + output tokens",
        ),
        "",
        "Per preset, model class and precision; each preset's own utilisation replaced by the column's. A cell "
        "says yes where the band's dearest end is under the mark, 'within the band' where only its cheapest is.",
        "",
    ]
    for preset in inputs.presets:
        base = load_assumptions(preset)
        rows = []
        for (cls, precision), group in projected.groupby([classes, projected["precision"]], sort=True):
            row = {"model class": cls, "precision": precision}
            for tokens, words in (("output", "output"), ("total", "input + output")):
                for u in UTILISATIONS:
                    a = base.with_changes(utilization=u)
                    row[f"{words}, {u:.0%} busy"] = _ten_cents_cell(_cheapest_at(group, a, catalog, tokens))
            rows.append(row)
        lines += [f"### '{preset}': {assumptions_of(base)} (utilisation as the column says)", ""]
        lines += [pd.DataFrame(rows).to_markdown(index=False), ""]
    return lines


def ten_cents_measured(measured: pd.DataFrame, inputs) -> list[str]:
    """The cheapest point ML.ENERGY measured, per preset: a separate basis (their workload, batch and watts, $/M
    output tokens), beside the projections' answer, never ranked with it."""
    if measured.empty:
        return []
    lines = [
        basis(
            "ML.ENERGY's LMArena chat, vLLM 0.11.1, BF16",
            "their max_num_seqs, the cheapest measured",
            "GPU power measured by ML.ENERGY",
            "$/M output tokens (input tokens not published), each preset at its own utilisation",
        ),
        "",
    ]
    for preset in inputs.presets:
        column = f"usd_per_m_output {preset}"
        if measured[column].dropna().empty:
            lines.append(f"- '{preset}': no measured GPU is priced by this preset.")
            continue
        row = measured.loc[measured[column].idxmin()]
        lines.append(
            f"- '{preset}': {usd(row[column])} per million output tokens, measured by ML.ENERGY ({row['model']}, "
            f"{row['accelerator_count']:.0f}x{row['hardware']}, batch {row['batch_size']:.0f}): "
            f"**{'yes' if row[column] <= TEN_CENTS else 'no'}**."
        )
    return lines + [""]


# --- Against API prices -----------------------------------------------------------------------------------------


def _rental_at(row: dict, a: Assumptions, catalog) -> float:
    """$/M input + output tokens of a service-levels row's point under `a`."""
    total_tok_s = row["output_tok_s"] * (row["isl"] + row["osl"]) / row["osl"]
    return _hourly(row["hardware"], int(row["accelerator_count"]), a, catalog) / (total_tok_s * 3600 / 1e6)


def versus_apis(levels: pd.DataFrame, inputs, catalog) -> list[str]:
    """Each API's price at one input token per output token beside the same model self-hosted in BF16 at equal
    ISL and OSL: owned at the batch floor, always busy, and rented on demand at a stated utilisation at TIER."""
    main = inputs.main_preset
    even = levels[(levels["isl"] == levels["osl"]) & (levels["precision"] == "bf16")]
    floors = even[even["tier"] == FLOOR]
    tiered = even[(even["tier"] == TIER) & (even["status"] != NOT_REACHABLE)]
    rental = load_assumptions(RENTAL_PRESET).with_changes(utilization=RENTAL_UTILISATION)
    owned_cost = f"usd_per_m_total {main}"
    rows = []
    for key, api in load_api_prices().items():
        if not (key == GPT4_LAUNCH or in_force(api)) or "70b" in key:  # no 70B model is projected here
            continue
        model = next((m for m in floors["model"].unique() if key.startswith(m)), None)
        if model is None:
            continue  # like for like: only the models we project
        owned = floors[floors["model"] == model][owned_cost].min()
        rented = [_rental_at(r, rental, catalog) for r in tiered[tiered["model"] == model].to_dict("records")]
        rented_cost = min((c for c in rented if pd.notna(c)), default=float("nan"))
        blended = blended_per_mtok(api, 1, 1)
        rows.append(
            {
                "API": f"{api.display_name} ({api.provider}, from {api.valid_from or api.date})",
                "API $/M at 1:1": usd(blended),
                f"owned floor ('{main}', 100 % busy)": f"{usd(owned)} ({number(owned / blended, 2)}x the API)",
                f"rented on demand, {RENTAL_UTILISATION:.0%} busy, {TIER}": f"{usd(rented_cost)} "
                f"({number(rented_cost / blended, 2)}x the API)"
                if pd.notna(rented_cost)
                else "n/a",
            }
        )
    return [
        "## Self-hosting against API prices, like for like",
        "",
        basis(
            "equal ISL and OSL (one input token per output token, as the API's blended price), the same model, BF16",
            f"owned: the cheapest GPU count and batch with no latency limit; rented: the cheapest that keeps {TIER} "
            "(each user reads 30 tok/s or more, as an API streams)",
            "TDP (estimated)",
            "$/M input + output tokens, the API's at its list input and output prices, 1:1",
        ),
        "",
        f"The owned floor assumes GPUs bought and kept busy every hour ({assumptions_of(load_assumptions(main))}); "
        f"the rental pays the catalog's on-demand rate for every hour and serves {RENTAL_UTILISATION:.0%} of them "
        f"({assumptions_of(rental)}), closer to what a provider with uneven traffic pays. The API's price includes "
        "its margin, idle capacity and everything else a provider pays for. APIs of models not projected here (GPT-4o, "
        "Gemini, DeepSeek, ...) are left out: no point of ours is like theirs.",
        "",
        pd.DataFrame(rows).to_markdown(index=False),
        "",
    ]
