"""Claims people make about token costs, checked against measured runs.

Each claim gets the evidence it was judged on, the figure, and a verdict:
supported, not supported, or cannot tell from these runs. Where the runs
cannot tell, a roofline projection may be given, always labelled projected.
"""

import pandas as pd

from bench.errors import UserError
from bench.inputs.cards import load_card
from tokencost.analysis.pairs import cheapest, moe_dense_pairs
from tokencost.pricing.catalog import find_hardware
from tokencost.pricing.roofline import ceiling, hardware_of

SUPPORTED, NOT_SUPPORTED, CANNOT_TELL = "supported", "not supported", "cannot tell from these runs"
SEVERAL = 2.0  # "several times" is read as at least 2x


def moe_vs_dense(priced: pd.DataFrame) -> dict:
    claim = "An MoE model costs several times less per token than a dense model of similar total size"
    pairs = moe_dense_pairs(priced)
    if pairs.empty:
        return _verdict(claim, "no MoE run beside the dense model its card pairs with", None, CANNOT_TELL)
    ratio = pairs["total_per_mtok_usd_dense"] / pairs["total_per_mtok_usd_moe"]
    size = (pairs["total_params_moe"] / pairs["total_params_dense"]).median()
    evidence = (f"{len(pairs)} matched points ({', '.join(sorted(set(pairs['model_moe'] + ' vs ' + pairs['model_dense'])))}; "
                f"MoE/dense total parameters {size:.2f}x); dense $/M over MoE $/M: median {ratio.median():.2f}x, "
                f"range {ratio.min():.2f}-{ratio.max():.2f}x")
    return _verdict(claim, evidence, ratio.median(), SUPPORTED if ratio.median() >= SEVERAL else NOT_SUPPORTED)


def h100_vs_a100(priced: pd.DataFrame, catalog) -> dict:
    claim = "H100 gives about 3x A100's inference efficiency (tokens per joule)"
    hardware = priced["hardware"].astype(str)  # an empty table's column holds no strings for .str
    h100 = priced[hardware.str.startswith("h100")]
    a100 = priced[hardware.str.startswith("a100")]
    keys = ["model", "engine", "batch_size", "isl", "osl"]
    pairs = h100.merge(a100, on=keys, suffixes=("_h100", "_a100"))
    pairs = pairs[pairs["j_per_output_token_h100"].notna() & pairs["j_per_output_token_a100"].notna()]
    if pairs.empty:
        return _verdict(claim, "no run of the same model and settings on both H100 and A100", None, CANNOT_TELL,
                        projection=_projected_h100_a100(priced, catalog))
    ratio = pairs["j_per_output_token_a100"] / pairs["j_per_output_token_h100"]
    evidence = f"{len(pairs)} matched points; A100 J/token over H100 J/token: median {ratio.median():.2f}x"
    verdict = SUPPORTED if 2.5 <= ratio.median() <= 3.5 else NOT_SUPPORTED
    return _verdict(claim, evidence, ratio.median(), verdict)


def _projected_h100_a100(priced: pd.DataFrame, catalog) -> str:
    h100 = hardware_of(find_hardware("h100-sxm", catalog), 1)
    a100 = hardware_of(find_hardware("a100-80gb-sxm", catalog), 1)
    lines = []
    for model in sorted(priced["model"].unique())[:2]:
        try:
            config = load_card(model).config
        except UserError:  # a record of a model with no card here (e.g. an imported file): nothing to project
            continue
        for batch in (1, 128):
            ratio = ceiling(config, h100, batch, 1024, 1024).output_tok_s / ceiling(config, a100, batch, 1024, 1024).output_tok_s
            lines.append(f"{model} batch {batch}: {ratio:.2f}x tok/s")
    if not lines:
        return ""
    tdp = find_hardware("h100-sxm", catalog).tdp_w / find_hardware("a100-80gb-sxm", catalog).tdp_w
    return ("PROJECTED from rooflines (not measured): H100 over A100 ceiling " + "; ".join(lines)
            + f"; at TDP ({tdp:.2f}x the power) tokens per joule gain is those ratios / {tdp:.2f}")


def vllm_vs_naive(priced: pd.DataFrame) -> dict:
    claim = "vLLM-style serving raises throughput several times over a naive engine on the same hardware"
    keys = ["model", "hardware", "batch_size", "isl", "osl"]
    pairs = priced[priced["engine"] == "vllm"].merge(priced[priced["engine"] == "transformers"], on=keys,
                                                      suffixes=("_vllm", "_naive"))
    if pairs.empty:
        return _verdict(claim, "no run of vLLM and the transformers baseline at the same settings", None, CANNOT_TELL)
    ratio = pairs["output_tok_s_vllm"] / pairs["output_tok_s_naive"]
    best = pairs.loc[ratio.idxmax()]
    evidence = (f"{len(pairs)} matched points on {', '.join(pairs['hardware'].unique())}; vLLM over transformers "
                f"output tok/s: median {ratio.median():.2f}x, best {ratio.max():.2f}x "
                f"({best['model']} at batch {best['batch_size']})")
    return _verdict(claim, evidence, ratio.median(), SUPPORTED if ratio.median() >= SEVERAL else NOT_SUPPORTED)


def chip_share(priced: pd.DataFrame, assumptions) -> dict:
    claim = "Chips are 60-70 % of inference cost"
    if assumptions.ownership != "owned":
        return _verdict(claim, f"preset '{assumptions.name}' rents hardware: its rate hides the chip share", None,
                        CANNOT_TELL)
    share = priced["capital_share"].dropna()
    if share.empty:
        return _verdict(claim, "no priced point", None, CANNOT_TELL)
    evidence = (f"capital share of the hourly cost under preset '{assumptions.name}' over {len(share)} points "
                f"on {', '.join(priced['hardware'].unique())}: median {share.median():.0%} "
                f"(capital includes the server share; it moves with utilisation, life and power price)")
    return _verdict(claim, evidence, share.median(), SUPPORTED if 0.6 <= share.median() <= 0.7 else NOT_SUPPORTED)


def ten_cents(priced: pd.DataFrame) -> dict:
    claim = "Self-hosted cost can reach $0.10 per million tokens"
    best = cheapest(priced)
    if best is None:
        return _verdict(claim, "no priced point", None, CANNOT_TELL)
    evidence = (f"lowest measured $/M tokens: ${best['total_per_mtok_usd']:.4g} ({best['model']}, {best['engine']}, "
                f"batch {best['batch_size']}, {best['hardware']})")
    return _verdict(claim, evidence, best["total_per_mtok_usd"],
                    SUPPORTED if best["total_per_mtok_usd"] <= 0.10 else NOT_SUPPORTED)


def _verdict(claim: str, evidence: str, figure, verdict: str, projection: str = "") -> dict:
    return {"claim": claim, "evidence": evidence, "figure": figure, "verdict": verdict, "projection": projection}


def check_claims(priced: pd.DataFrame, pricing) -> pd.DataFrame:
    return pd.DataFrame([
        moe_vs_dense(priced),
        h100_vs_a100(priced, pricing.catalog),
        vllm_vs_naive(priced),
        chip_share(priced, pricing.assumptions),
        ten_cents(priced),
    ])
