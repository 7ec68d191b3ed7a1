"""The cost explorer: the GPU cost table as one self-contained web page (DIR/index.html of `tokencost gpu-table`).

The page holds the table's rows (projected, and measured by others), the catalog figures and the presets they
were priced with, the service-level tiers and the dense/MoE pairs, as JSON; its script (explorer/explorer.js)
re-prices every row with the formulas of tokencost.pricing.hourly as the reader changes the preset, $/GPU-hour,
$/kWh, utilisation or amortisation years, and picks the cheapest GPU count and batch that keeps the chosen tier
as tokencost.analysis.service_level.cheapest_meeting does. Nothing is fetched at view time: the page, its
style and its script are one file.
"""

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from bench.inputs.tiers import shipped_tiers
from tokencost.analysis.service_level import FLOOR
from tokencost.pricing.assumptions import load_assumptions, preset_names
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.publish.gpu_tiers import PAIRS

PAGE_FILE = "index.html"
MAX_PAGE_BYTES = 5_000_000  # the bound on one self-contained page
# The catalog figures tokencost.pricing.hourly reads (hourly_cost, unit_price, rental_rate, idle_device_w).
HARDWARE_FIGURES = ("tdp_w", "price_usd", "server_share_usd", "idle_w", "rental_usd_per_hour", "reserved_usd_per_hour")
# Per row, what the page prices and shows; a column another version of the table lacks is left out.
PROJECTED_COLUMNS = (
    "model",
    "kind",
    "hardware",
    "accelerator_count",
    "batch_size",
    "isl",
    "osl",
    "precision",
    "output_tok_s",
    "total_tok_s",
    "tok_s_per_user",
    "ttft_ms",
    "power_w",
    "error_band",
    "projected_output_tok_s_low",  # the regime's held-out band (tokencost.analysis.bands)
    "projected_output_tok_s_high",
    "regime",
    "label",
)
MEASURED_COLUMNS = (
    "model",
    "kind",
    "hardware",
    "accelerator_count",
    "batch_size",
    "osl",
    "precision",
    "output_tok_s",
    "tok_s_per_user",
    "power_w",
    "error_band",
    "label",
)
TABLE_FILES = {"projected": "costs.csv", "measured": "measured-by-others.csv"}


def _plain(value: Any) -> Any:
    """A cell as JSON: numpy scalars as Python's, NaN as null."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _table(rows: pd.DataFrame, columns: tuple[str, ...]) -> dict[str, Any]:
    """Rows as columns of values (row i of every column is line i + 2 of the CSV file); labels, long and
    repeated, listed once and referenced by index."""
    present = [c for c in columns if c in rows]
    labels = list(dict.fromkeys(rows["label"])) if "label" in rows else []
    data: dict[str, list[Any]] = {}
    for column in present:
        if column == "label":
            data[column] = [labels.index(v) for v in rows[column]]
        else:
            data[column] = [_plain(v) for v in rows[column]]
    return {"columns": data, "labels": labels, "length": len(rows)}


def _hardware(keys: list[str]) -> dict[str, dict[str, Any]]:
    catalog = load_catalog()
    out = {}
    for key in keys:
        entry = find_hardware(key, catalog)
        out[entry.key] = {"key": entry.key, "name": entry.display_name} | {f: entry.get(f) for f in HARDWARE_FIGURES}
    return out


def _presets(main: str) -> dict[str, dict[str, Any]]:
    """Every preset's assumptions as tokencost prices with them (load_assumptions), the table's main one first."""
    names = [main, *(n for n in preset_names() if n != main)]
    return {name: load_assumptions(name).model_dump(exclude={"sources"}) for name in names}


def _tiers() -> dict[str, dict[str, Any]]:
    tiers: dict[str, dict[str, Any]] = {
        FLOOR: {"description": "no latency limit: the cheapest batch, a batch-processing floor"}
    }
    for name, tier in shipped_tiers().items():
        tiers[name] = tier.limits() | {"description": tier.description, "limits": tier.describe()}
    return tiers


def explorer_data(projected: pd.DataFrame, measured: pd.DataFrame, main_preset: str) -> dict[str, Any]:
    """What the page computes from: the rows, the catalog's figures for their GPUs, the presets, the tiers and
    the dense/MoE pairs."""
    gpus = list(dict.fromkeys([*projected["hardware"], *measured["hardware"]]))
    return {
        "files": TABLE_FILES,
        "projected": _table(projected, PROJECTED_COLUMNS),
        "measured": _table(measured, MEASURED_COLUMNS),
        "hardware": _hardware(gpus),
        "presets": _presets(main_preset),
        "main_preset": main_preset,
        "tiers": _tiers(),
        "floor": FLOOR,
        "pairs": [{"moe": m, "dense": d, "quality": q, "why": why} for (m, d), (q, why) in PAIRS.items()],
    }


def _asset(name: str) -> str:
    return resources.files("tokencost.publish").joinpath("explorer", name).read_text()


def render_explorer(data: dict[str, Any]) -> str:
    """The page: template, style, data and script in one file. The JSON is made safe inside <script> (no
    '</' can close it)."""
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    page = (
        _asset("page.html")
        .replace("/*STYLE*/", _asset("explorer.css"))
        .replace("/*DATA*/", payload)
        .replace("/*SCRIPT*/", _asset("explorer.js"))
    )
    return page


def write_explorer(out_dir: Path, projected: pd.DataFrame, measured: pd.DataFrame, main_preset: str) -> Path:
    """DIR/index.html over the table's rows as written (read back from the CSV files)."""
    path = Path(out_dir) / PAGE_FILE
    page = render_explorer(explorer_data(projected, measured, main_preset))
    if len(page.encode()) > MAX_PAGE_BYTES:
        raise ValueError(f"the explorer page is {len(page.encode()):,} bytes, above {MAX_PAGE_BYTES:,}")
    path.write_text(page)
    return path
