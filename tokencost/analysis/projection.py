"""Projections: tokens/s and $/M on hardware the user does not have, from the roofline
scaled by the efficiency measured on hardware they do have. Always labelled projected."""

from pathlib import Path

import pandas as pd

from bench.errors import UserError
from bench.inputs.cards import load_card
from bench.run.records import RECORDS_FILE, has_records, read_records
from tokencost.pricing.catalog import find_hardware
from tokencost.pricing.hourly import hourly_cost, usd_per_mtok
from tokencost.pricing.priced_runs import Pricing
from tokencost.pricing.roofline import ceiling, hardware_of


def measured_efficiency(run_dir: Path, pricing: Pricing, engine: str = "vllm") -> tuple[float, str]:
    """Median measured/ceiling output tok/s of a run's points on `engine`, and where it came from."""
    if not has_records(run_dir):
        raise UserError("--efficiency", f"{run_dir} has no {RECORDS_FILE}", "give a run directory written by `tokencost run`")
    priced = pricing.price(read_records(run_dir)).offline
    fractions = priced.loc[priced["engine"] == engine, "roofline_fraction"].dropna()
    if fractions.empty:
        raise UserError("--efficiency", f"{run_dir} has no {engine} point with a roofline",
                        "use a run whose hardware has bandwidth and FLOPS figures in the catalog")
    return float(fractions.median()), f"median of {len(fractions)} {engine} points in {run_dir}"


def project(model: str, gpu: str, gpus: int, batch_sizes, isl: int, osl: int, efficiency: float,
            efficiency_source: str, pricing: Pricing) -> pd.DataFrame:
    card = load_card(model)
    hardware = find_hardware(gpu, pricing.catalog)
    figures = hardware_of(hardware, gpus)
    if figures is None:
        raise UserError("--gpu", f"{hardware.key} lacks bandwidth, FLOPS or memory figures",
                        "give them in a --hardware file")
    rows = []
    for batch in batch_sizes:
        roof = ceiling(card.config, figures, batch, isl, osl)
        output_tok_s = roof.output_tok_s * efficiency
        total_tok_s = roof.total_tok_s * efficiency
        cost = hourly_cost(gpus, hardware, gpus * hardware.tdp_w, pricing.assumptions)
        rows.append({
            "model": card.name, "hardware": hardware.key, "gpus": gpus, "batch_size": batch, "isl": isl, "osl": osl,
            "fits_in_memory": batch <= roof.max_batch_by_memory, "decode_bound": roof.decode_bound,
            "ceiling_output_tok_s": roof.output_tok_s, "efficiency": efficiency,
            "projected_output_tok_s": output_tok_s,
            "projected_total_per_mtok_usd": usd_per_mtok(cost.total, total_tok_s),
            "label": f"projected: roofline x {efficiency:.1%} efficiency ({efficiency_source}); "
                     f"power = TDP (estimated); $ from '{pricing.assumptions.name}'",
        })
    return pd.DataFrame(rows)
