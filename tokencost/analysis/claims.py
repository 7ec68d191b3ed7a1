"""Claims people make about token costs, checked against measured runs.

Each claim gets the evidence it was judged on, the figure, and a verdict:
supported, not supported, or cannot tell from these runs. Where the runs
cannot tell, a roofline projection may be given, always labelled projected.

Claims count only valid points of real models (valid_points): every validity
check of the point passed (its `checks` column is "ok"), and its record does
not say the model ran on dummy (random) weights. A dummy-weight run measures
the machinery at a model's shape, not a model anyone serves. Records written
before the weights field existed cannot say; they are counted, and the
evidence says how many. Each claim's evidence says how many points were left
out, and why.
"""

import pandas as pd

from bench.errors import UserError
from bench.inputs.cards import load_card
from tokencost.analysis.pairs import cheapest, moe_dense_pairs
from tokencost.pricing.catalog import find_hardware
from tokencost.pricing.checks import OK, failed_names, passed
from tokencost.pricing.roofline import ceiling, required_figures

SUPPORTED, NOT_SUPPORTED, CANNOT_TELL = "supported", "not supported", "cannot tell from these runs"
SEVERAL = 2.0  # "several times" is read as at least 2x


def valid_points(priced: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The points claims may count (see the module's docstring), and a note of those left out and why."""
    if priced.empty:
        return priced, "no priced point"
    checks = priced["checks"] if "checks" in priced else pd.Series(OK, index=priced.index)
    weights = priced["weights"] if "weights" in priced else pd.Series(None, index=priced.index, dtype=object)
    failed, dummy = ~checks.map(passed).astype(bool), weights == "dummy"
    kept = priced[~failed & ~dummy]
    note = f"{len(kept)} of {len(priced)} points counted"
    reasons = []
    if failed.any():
        names = checks[failed].map(failed_names).explode()
        why = ", ".join(f"{n} {name}" for name, n in names.value_counts().items())
        reasons.append(f"{failed.sum()} failed validity checks ({why})")
    if dummy.any():
        models = ", ".join(sorted(priced.loc[dummy, "model"].astype(str).unique()))
        reasons.append(f"{dummy.sum()} ran on dummy (random) weights ({models})")
    if reasons:
        note += "; left out: " + "; ".join(reasons)
    if (failed & dummy).any():
        note += f" ({(failed & dummy).sum()} on both counts)"
    unknown = int((weights.isna() & ~failed).sum())
    if unknown:
        note += f"; {unknown} counted point(s) have records that do not say whether their weights were real"
    return kept, note


def _counted(evidence: str, note: str) -> str:
    return f"{evidence} [{note}]"


def moe_vs_dense(priced: pd.DataFrame) -> dict:
    claim = "An MoE model costs several times less per token than a dense model of similar total size"
    priced, note = valid_points(priced)
    pairs = moe_dense_pairs(priced)
    if pairs.empty:
        return _verdict(
            claim, _counted("no MoE run beside the dense model its card pairs with", note), None, CANNOT_TELL
        )
    ratio = pairs["total_per_mtok_usd_dense"] / pairs["total_per_mtok_usd_moe"]
    size = (pairs["total_params_moe"] / pairs["total_params_dense"]).median()
    evidence = (
        f"{len(pairs)} matched points ({', '.join(sorted(set(pairs['model_moe'] + ' vs ' + pairs['model_dense'])))}; "
        f"MoE/dense total parameters {size:.2f}x); dense $/M over MoE $/M: median {ratio.median():.2f}x, "
        f"range {ratio.min():.2f}-{ratio.max():.2f}x"
    )
    evidence = _counted(evidence, note)
    return _verdict(claim, evidence, ratio.median(), SUPPORTED if ratio.median() >= SEVERAL else NOT_SUPPORTED)


def h100_vs_a100(priced: pd.DataFrame, catalog) -> dict:
    claim = "H100 gives about 3x A100's inference efficiency (tokens per joule)"
    everything = priced
    priced, note = valid_points(priced)
    hardware = priced["hardware"].astype(str)  # an empty table's column holds no strings for .str
    h100 = priced[hardware.str.startswith("h100")]
    a100 = priced[hardware.str.startswith("a100")]
    keys = ["model", "engine", "batch_size", "isl", "osl"]
    pairs = h100.merge(a100, on=keys, suffixes=("_h100", "_a100"))
    pairs = pairs[pairs["j_per_output_token_h100"].notna() & pairs["j_per_output_token_a100"].notna()]
    if pairs.empty:
        return _verdict(
            claim,
            _counted("no run of the same model and settings on both H100 and A100", note),
            None,
            CANNOT_TELL,
            projection=_projected_h100_a100(everything, catalog),
        )
    ratio = pairs["j_per_output_token_a100"] / pairs["j_per_output_token_h100"]
    evidence = _counted(
        f"{len(pairs)} matched points; A100 J/token over H100 J/token: median {ratio.median():.2f}x", note
    )
    verdict = SUPPORTED if 2.5 <= ratio.median() <= 3.5 else NOT_SUPPORTED
    return _verdict(claim, evidence, ratio.median(), verdict)


def _projected_h100_a100(priced: pd.DataFrame, catalog) -> str:
    h100 = required_figures(find_hardware("h100-sxm", catalog), 1)
    a100 = required_figures(find_hardware("a100-80gb-sxm", catalog), 1)
    lines = []
    for model in sorted(priced["model"].unique())[:2]:
        try:
            config = load_card(model).config
        except UserError:  # a record of a model with no card here (e.g. an imported file): nothing to project
            continue
        for batch in (1, 128):
            ratio = (
                ceiling(config, h100, batch, 1024, 1024).output_tok_s
                / ceiling(config, a100, batch, 1024, 1024).output_tok_s
            )
            lines.append(f"{model} batch {batch}: {ratio:.2f}x tok/s")
    if not lines:
        return ""
    tdp = find_hardware("h100-sxm", catalog).tdp_w / find_hardware("a100-80gb-sxm", catalog).tdp_w
    return (
        "PROJECTED from rooflines (not measured): H100 over A100 ceiling "
        + "; ".join(lines)
        + f"; at TDP ({tdp:.2f}x the power) tokens per joule gain is those ratios / {tdp:.2f}"
    )


def vllm_vs_naive(priced: pd.DataFrame) -> dict:
    claim = "vLLM-style serving raises throughput several times over a naive engine on the same hardware"
    keys = ["model", "hardware", "batch_size", "isl", "osl"]
    priced, note = valid_points(priced)
    pairs = priced[priced["engine"] == "vllm"].merge(
        priced[priced["engine"] == "transformers"], on=keys, suffixes=("_vllm", "_naive")
    )
    if pairs.empty:
        return _verdict(
            claim,
            _counted("no run of vLLM and the transformers baseline at the same settings", note),
            None,
            CANNOT_TELL,
        )
    ratio = pairs["output_tok_s_vllm"] / pairs["output_tok_s_naive"]
    best = pairs.loc[ratio.idxmax()]
    evidence = (
        f"{len(pairs)} matched points on {', '.join(pairs['hardware'].unique())}; vLLM over transformers "
        f"output tok/s: median {ratio.median():.2f}x, best {ratio.max():.2f}x "
        f"({best['model']} at batch {best['batch_size']})"
    )
    evidence = _counted(evidence, note)
    return _verdict(claim, evidence, ratio.median(), SUPPORTED if ratio.median() >= SEVERAL else NOT_SUPPORTED)


def chip_share(priced: pd.DataFrame, assumptions) -> dict:
    claim = "Chips are 60-70 % of inference cost"
    if assumptions.ownership != "owned":
        return _verdict(
            claim, f"preset '{assumptions.name}' rents hardware: its rate hides the chip share", None, CANNOT_TELL
        )
    priced, note = valid_points(priced)
    share = priced["capital_share"].dropna()
    if share.empty:
        return _verdict(claim, _counted("no point counted", note), None, CANNOT_TELL)
    evidence = (
        f"capital share of the hourly cost under preset '{assumptions.name}' over {len(share)} points "
        f"on {', '.join(priced['hardware'].unique())}: median {share.median():.0%}; the share is set by "
        f"what the preset prices, not measured: {_omissions(assumptions)} (capital includes the server "
        f"share; it moves with utilisation, life and power price)"
    )
    return _verdict(
        claim, _counted(evidence, note), share.median(), SUPPORTED if 0.6 <= share.median() <= 0.7 else NOT_SUPPORTED
    )


def _omissions(a) -> str:
    """What an owned preset leaves out of the hourly cost, each of which raises the chip share."""
    left_out = []
    if a.cost_of_capital == 0:
        left_out.append("no cost of capital")
    if a.hosting_usd_per_kw_month == 0:
        left_out.append("no hosting or facility cost")
    if a.utilization == 1:
        left_out.append("no idle hours")
    if a.power_boundary == "gpu":
        left_out.append("GPU-only power")
    left_out.append("no network capex, staff, software or support (no preset prices them)")
    return ", ".join(left_out)


def ten_cents(priced: pd.DataFrame) -> dict:
    claim = "Self-hosted cost can reach $0.10 per million tokens"
    priced, note = valid_points(priced)
    best = cheapest(priced)
    if best is None:
        return _verdict(claim, _counted("no point counted", note), None, CANNOT_TELL)
    evidence = (
        f"lowest measured $/M input+output tokens: ${best['total_per_mtok_usd']:.4g} ({best['model']}, {best['engine']}, "
        f"batch {best['batch_size']}, {best['hardware']})"
    )
    return _verdict(
        claim,
        _counted(evidence, note),
        best["total_per_mtok_usd"],
        SUPPORTED if best["total_per_mtok_usd"] <= 0.10 else NOT_SUPPORTED,
    )


def _verdict(claim: str, evidence: str, figure, verdict: str, projection: str = "") -> dict:
    return {"claim": claim, "evidence": evidence, "figure": figure, "verdict": verdict, "projection": projection}


def check_claims(priced: pd.DataFrame, pricing) -> pd.DataFrame:
    return pd.DataFrame(
        [
            moe_vs_dense(priced),
            h100_vs_a100(priced, pricing.catalog),
            vllm_vs_naive(priced),
            chip_share(priced, pricing.assumptions),
            ten_cents(priced),
        ]
    )
