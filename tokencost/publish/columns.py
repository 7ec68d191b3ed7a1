"""Which columns of a priced table are shown, and under which headers, in reports and on the terminal."""

import pandas as pd

from tokencost.publish.document import NUMBER_FORMAT

OFFLINE_HEADERS = {
    "hardware": "hardware",
    "engine": "engine",
    "model": "model",
    "kind": "kind",
    "batch_size": "batch",
    "output_tok_s": "output tok/s",
    "avg_power_w": "W",
    "roofline_fraction": "of roofline",
    "j_per_output_token": "J/output token",
    "steady_j_per_output_token": "steady-state J/output token",
    "total_per_mtok_usd": "$/M tokens",
    "input_per_mtok_usd": "$/M input",
    "output_per_mtok_usd": "$/M output",
    "split_method": "input/output split",
    "cost_split": "capital / energy / hosting / rental",
    "cost_vs_api": "x API",
    "checks": "validity checks",
    "label": "method",
}

SERVING_HEADERS = {
    "engine": "engine",
    "model": "model",
    "kind": "kind",
    "load": "load",
    "output_tok_s": "output tok/s",
    "output_tok_s_per_gpu": "output tok/s per GPU",
    "ttft_p50_ms": "TTFT p50 ms",
    "ttft_p99_ms": "TTFT p99 ms",
    "tpot_p50_ms": "TPOT p50 ms",
    "interactivity": "tok/s/user",
    "goodput_share": "within SLO",
    "avg_power_w": "W",
    "j_per_output_token": "J/output token",
    "total_per_mtok_usd": "$/M tokens",
    "on_cost_front": "on front",
    "checks": "validity checks",
    "label": "method",
}


def shown(priced: pd.DataFrame, headers: dict[str, str]) -> pd.DataFrame:
    """The table's shown columns under their headers."""
    return priced.reindex(columns=list(headers)).rename(columns=headers)


def markdown_table(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False, floatfmt=NUMBER_FORMAT)
