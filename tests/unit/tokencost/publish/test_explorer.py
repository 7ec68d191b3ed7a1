"""The cost explorer's page: the table's rows and the figures they are priced with, in one file that fetches nothing.

What the page computes is checked in real Chromium (tests/browser/test_explorer.py); here, what it is given.
"""

import importlib
import json
import re

import pandas as pd
import pytest

from bench.inputs.tiers import shipped_tiers
from tests.support import REPO
from tokencost.analysis.service_level import FLOOR
from tokencost.pricing.assumptions import load_assumptions, preset_names
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.publish.explorer import (
    HARDWARE_FIGURES,
    MAX_PAGE_BYTES,
    explorer_data,
    render_explorer,
    write_explorer,
)
from tokencost.publish.gpu_tiers import PAIRS

PUBLISHED = REPO / "results" / "gpu-cost-table"
SCRIPT = REPO / "tokencost" / "publish" / "explorer" / "explorer.js"


@pytest.fixture(scope="module")
def rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_csv(PUBLISHED / "costs.csv"), pd.read_csv(PUBLISHED / "measured-by-others.csv")


@pytest.fixture(scope="module")
def data(rows) -> dict:
    return explorer_data(*rows, "owned")


def embedded(page: str) -> dict:
    """The JSON the page computes from, read back as its script reads it."""
    (text,) = re.findall(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    parsed: dict = json.loads(text)
    return parsed


def test_every_row_is_carried_with_the_values_of_its_csv_line(rows, data):
    for table, carried in zip(rows, (data["projected"], data["measured"])):
        assert carried["length"] == len(table) and len(table) > 0
        for column, values in carried["columns"].items():
            if column == "label":
                assert [carried["labels"][i] for i in values] == list(table["label"])
            else:
                assert values == [None if pd.isna(v) else v for v in table[column].tolist()], column
    assert {"total_tok_s", "ttft_ms", "isl", "osl"} <= set(data["projected"]["columns"])
    assert "total_tok_s" not in data["measured"]["columns"]  # they publish output tokens only


def test_the_figures_priced_with_are_tokencosts_own(data):
    catalog = load_catalog()
    assert set(data["hardware"]) == {"h100-sxm", "h200", "b200", "a100-80gb-sxm"}
    for key, figures in data["hardware"].items():
        entry = find_hardware(key, catalog)
        assert figures == {"key": key, "name": entry.display_name} | {f: entry.get(f) for f in HARDWARE_FIGURES}
    assert list(data["presets"])[0] == "owned" and set(data["presets"]) == set(preset_names())
    for name, values in data["presets"].items():
        assert values == load_assumptions(name).model_dump(exclude={"sources"})
    assert list(data["tiers"]) == [FLOOR, *shipped_tiers()]
    assert data["tiers"]["ix-30"]["min_tok_s_user"] == 30 and data["tiers"]["chat"]["ttft_ms"] == 2000
    assert [(p["moe"], p["dense"]) for p in data["pairs"]] == list(PAIRS)


def test_the_page_is_one_file_that_fetches_nothing(data):
    page = render_explorer(data)
    assert embedded(page) == json.loads(json.dumps(data))
    assert not re.search(r"\b(src|href)\s*=", page, re.I)  # no script, style sheet, image or font from elsewhere
    assert "default-src 'none'" in page  # and the browser is told to fetch nothing
    assert "/*STYLE*/" not in page and "/*SCRIPT*/" not in page
    assert len(page.encode()) < MAX_PAGE_BYTES


def test_text_in_the_data_cannot_close_its_script(rows):
    projected, measured = rows[0].copy(), rows[1]
    projected.loc[0, "label"] = "</script><script>alert(1)</script>"
    page = render_explorer(explorer_data(projected, measured, "owned"))
    assert page.count("</script>") == 2  # the data's and the script's own
    assert embedded(page)["projected"]["labels"][0] == "</script><script>alert(1)</script>"


def test_the_page_is_written_alike_each_time(rows, tmp_path):
    (tmp_path / "again").mkdir()
    first, second = write_explorer(tmp_path, *rows, "owned"), write_explorer(tmp_path / "again", *rows, "owned")
    assert first.name == "index.html" and first.read_text() == second.read_text()  # no time, no randomness


def test_each_formula_of_the_script_names_a_python_function_that_exists():
    """The script's money math mirrors tokencost's functions; each mirror names its function, which must exist."""
    named = re.findall(r"// mirrors (tokencost\.[\w.]+)", SCRIPT.read_text())
    assert len(named) >= 10
    for dotted in named:
        module, function = dotted.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), function)), dotted
