"""The cost explorer (DIR/index.html of `tokencost gpu-table`), driven in real headless Chromium.

The table is rebuilt from the published inputs (results/gpu-cost-table/inputs.toml) into a temporary folder;
every $/M the page shows names its row of costs.csv or measured-by-others.csv and its token basis, and is
recomputed here with tokencost's own pricing (load_assumptions with the same flags, hourly_cost, usd_per_mtok),
one figure per setting also with `tokencost quote --json` itself.
"""

import io
import json
import math
import random
from contextlib import redirect_stdout
from functools import cache

import pandas as pd
import pytest

from bench.errors import UserError
from bench.inputs.tiers import shipped_tiers
from tests.browser.test_html_page import DESKTOP, PHONE, OpenPage, browser  # noqa: F401 (the fixture, reused)
from tokencost.analysis.service_level import FLOOR, meets
from tokencost.cli.main import main
from tokencost.pricing.assumptions import FLAGS, load_assumptions
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.hourly import hourly_cost, usd_per_mtok
from tokencost.publish.gpu_table import MEASURED_FILE, PROJECTED_FILE

SETTINGS = 50
TESTIDS = ("usd-per-gpu-hour", "usd-per-kwh", "utilization", "years", "preset", "model", "gpu", "gpu-count")
TESTIDS += ("precision", "tier", "token-basis", "shape", "answer", "chart", "curves", "verdict")
FLAG_OF = {key: flag for flag, key in FLAGS.items()}  # usd_per_kwh -> --usd-per-kwh
FIGURES_JS = """() => [...document.querySelectorAll('[data-testid=usd-per-m]')].map(f => ({
    file: f.dataset.file, row: Number(f.dataset.row), basis: f.dataset.basis, role: f.dataset.role,
    value: Number(f.dataset.value), text: f.textContent,
    list: (f.closest('[data-testid=projected], [data-testid=measured]') || {dataset: {}}).dataset.testid}))"""


@pytest.fixture(scope="module")
def table(rebuilt_gpu_table):
    folder = rebuilt_gpu_table
    rows = {name: pd.read_csv(folder / name) for name in (PROJECTED_FILE, MEASURED_FILE)}
    return folder / "index.html", rows


@pytest.fixture(scope="module")
def explorer(browser, table):  # noqa: F811 (browser is the fixture imported above)
    page = OpenPage(browser, table[0], DESKTOP)
    yield page
    page.page.close()


def random_setting(rng: random.Random, options: dict, previous: dict | None = None, changes: int = 3) -> dict:
    """A setting of every control at random; after `previous`, that setting with `changes` controls redrawn, as a
    reader explores (and fewer clicks for the browser)."""

    def maybe(low, high, digits=3):
        return str(round(rng.uniform(low, high), digits)) if rng.random() < 0.4 else ""

    drawn = {
        "models": rng.sample(options["models"], rng.randint(1, 3)),
        "gpus": rng.sample(options["gpus"], rng.randint(1, 2)),
        "gpu-count": rng.choice(options["gpu-count"]),
        "precision": rng.choice(options["precision"]),
        "tier": rng.choice(options["tier"]),
        "token-basis": rng.choice(options["token-basis"]),
        "shape": rng.choice(options["shape"]),
        "preset": rng.choice(options["preset"]),
        "usd-per-gpu-hour": maybe(0.5, 8, 2),
        "usd-per-kwh": maybe(0.02, 0.4),
        "utilization": maybe(0.2, 1.0),
        "years": maybe(1, 8, 1),
    }
    if previous is None:
        return drawn
    redrawn = rng.sample(sorted(drawn), changes)
    return {key: drawn[key] if key in redrawn else previous[key] for key in drawn}


def options_of(page) -> dict:
    """The values each control offers."""
    return page.evaluate("""() => {
        const out = {};
        for (const id of ['gpu-count', 'precision', 'tier', 'token-basis', 'shape', 'preset'])
            out[id] = [...document.querySelectorAll(`[data-testid="${id}"] option`)].map(o => o.value);
        out.models = [...document.querySelectorAll('[data-testid=model] input')].map(i => i.value);
        out.gpus = [...document.querySelectorAll('[data-testid=gpu] input')].map(i => i.value);
        return out;
    }""")


def drive(page, setting: dict) -> None:
    """Set the controls as a reader would (tick boxes, pick options, type numbers), touching only those whose
    value changes."""
    now = page.evaluate("""() => ({
        boxes: Object.fromEntries([...document.querySelectorAll('#controls input[type=checkbox]')]
            .map(b => [b.closest('fieldset').dataset.testid + '|' + b.value, b.checked])),
        values: Object.fromEntries([...document.querySelectorAll('#controls [data-testid]')]
            .filter(c => 'value' in c && c.tagName !== 'FIELDSET').map(c => [c.dataset.testid, c.value]))})""")
    for key, checked in now["boxes"].items():
        group, value = key.split("|")
        wanted = value in setting["models" if group == "model" else "gpus"]
        if wanted != checked:
            page.locator(f"[data-testid={group}] input[value='{value}']").set_checked(wanted)
    for testid in ("gpu-count", "precision", "tier", "token-basis", "shape", "preset"):
        if now["values"][testid] != setting[testid]:
            page.select_option(f"[data-testid={testid}]", setting[testid])
    for testid in ("usd-per-gpu-hour", "usd-per-kwh", "utilization", "years"):
        if now["values"][testid] != setting[testid]:
            page.fill(f"[data-testid={testid}]", setting[testid])


def flags_of(setting: dict) -> dict[str, float]:
    """The pricing flags the CLI takes for this setting: a price per GPU-hour rents the hardware, and a rented
    preset reads no $/kWh or years (the CLI refuses them; the page marks them unread)."""
    given = {
        key: float(setting[testid])
        for key, testid in (
            ("usd_per_gpu_hour", "usd-per-gpu-hour"),
            ("usd_per_kwh", "usd-per-kwh"),
            ("utilization", "utilization"),
            ("life_years", "years"),
        )
        if setting[testid]
    }
    rented = "usd_per_gpu_hour" in given or load_assumptions(setting["preset"]).ownership == "rented"
    return {FLAG_OF[k]: v for k, v in given.items() if not (rented and k in ("usd_per_kwh", "life_years"))}


@cache
def assumptions(preset: str, flags: tuple):
    return load_assumptions(preset, flags=dict(flags))


@cache
def hourly(gpu: str, count: int, watts: float, preset: str, flags: tuple) -> float:
    return hourly_cost(count, find_hardware(gpu, load_catalog()), watts, assumptions(preset, flags)).total


def priced(row: pd.Series, basis: str, preset: str, flags: dict) -> float:
    """$/M as `tokencost quote` computes it: the hour of `count` GPUs at the row's watts, over its tokens."""
    cost = hourly(row["hardware"], row["accelerator_count"], row["power_w"], preset, tuple(flags.items()))
    return usd_per_mtok(cost, row["total_tok_s"] if basis == "input+output" else row["output_tok_s"])


def quoted(row: pd.Series, basis: str, preset: str, flags: dict) -> float:
    """`tokencost quote --json` for the row: its GPUs, their watts, its tokens, the preset and flags."""
    tokens = ["--total-tok-s", repr(float(row["total_tok_s"]))] if basis == "input+output" else []
    tokens = tokens or ["--output-tok-s", repr(float(row["output_tok_s"]))]
    args = ["quote", "--gpu", row["hardware"], "--gpus", str(int(row["accelerator_count"]))]
    args += ["--watts", repr(float(row["power_w"]))]
    args += [*tokens, "--preset", preset, "--json"]
    args += [str(a) for flag, value in flags.items() for a in (flag, value)]
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(args) == 0, args
    document = json.loads(out.getvalue())
    return document["usd_per_mtok"]["total"] if basis == "input+output" else document["usd_per_output_mtok"]


def cheapest_row(rows: pd.DataFrame, setting: dict, model: str, gpu: str, basis: str, flags: dict) -> int | None:
    """The row the page should answer with: tokencost.analysis.service_level.cheapest_meeting's rule (the
    cheapest that keeps the tier; a tie to fewer GPUs, then the smaller batch), under the setting's prices."""
    isl, osl = map(int, setting["shape"].split("x"))
    chosen = rows[(rows["model"] == model) & (rows["hardware"] == gpu)]
    if "isl" in rows:
        chosen = chosen[(chosen["isl"] == isl) & (chosen["osl"] == osl)]
    precision = chosen["precision"].fillna("bf16") if "precision" in chosen else "bf16"
    chosen = chosen[precision == setting["precision"]]  # the page shows one precision
    if setting["gpu-count"] != "any":
        chosen = chosen[chosen["accelerator_count"] == int(setting["gpu-count"])]
    if setting["tier"] != FLOOR:
        ttft = chosen["ttft_ms"] if "ttft_ms" in chosen else math.nan
        chosen = chosen[meets(shipped_tiers()[setting["tier"]], chosen["tok_s_per_user"], ttft)]
    chosen = chosen.sort_values(["accelerator_count", "batch_size"], kind="stable")
    costs = []
    for _, row in chosen.iterrows():
        try:
            costs.append(priced(row, basis, setting["preset"], flags))
        except UserError:  # no rate for this GPU under this preset: no figure, as on the page
            costs.append(math.inf)
    return None if not costs else int(chosen.index[costs.index(min(costs))])


def test_the_controls_and_outputs_carry_their_testids(explorer):
    page = explorer.page
    for testid in TESTIDS:
        assert page.locator(f"[data-testid={testid}]").count() == 1, testid
    options = options_of(page)
    assert "owned" in options["preset"] and FLOOR in options["tier"] and "ix-30" in options["tier"]
    assert options["token-basis"] == ["input+output", "output"] and "any" in options["gpu-count"]
    assert len(options["models"]) == 6 and "h100-sxm" in options["gpus"]
    assert page.locator("[data-testid=usd-per-m]").count() > 0
    assert explorer.console_errors == [] and explorer.page_errors == []


def test_every_shown_cost_is_what_tokencost_gives_for_the_same_inputs(explorer, table):
    page, rows = explorer.page, table[1]
    rng = random.Random(29)
    options = options_of(page)
    checked = quotes = empty = 0
    setting = None
    for _ in range(SETTINGS):
        setting = random_setting(rng, options, setting)
        drive(page, setting)
        flags = flags_of(setting)
        figures = page.evaluate(FIGURES_JS)
        for figure in figures:
            row = rows[figure["file"]].loc[figure["row"]]
            expected = priced(row, figure["basis"], setting["preset"], flags)
            assert figure["value"] == pytest.approx(expected, rel=1e-9), (setting, figure)
            shown = float(figure["text"].removeprefix("$").replace(",", ""))
            assert shown == pytest.approx(expected, rel=5e-3), (setting, figure)  # 3 significant digits
            # projected and measured-by-others figures in lists of their own, never ranked together
            measured = figure["file"] == MEASURED_FILE
            assert measured == (figure["role"] in ("measured", "headline-measured")), figure
            assert figure["list"] in (None, "measured" if measured else "projected"), figure
            if figure["role"] in ("answer", "measured"):
                assert row["model"] in setting["models"] and row["hardware"] in setting["gpus"]
                best = cheapest_row(
                    rows[figure["file"]], setting, row["model"], row["hardware"], figure["basis"], flags
                )
                assert best == figure["row"], (setting, figure)
            checked += 1
        if figures:  # the first figure once more, through the command line itself
            row = rows[figures[0]["file"]].loc[figures[0]["row"]]
            quote = quoted(row, figures[0]["basis"], setting["preset"], flags)
            assert figures[0]["value"] == pytest.approx(quote, rel=1e-9), (setting, figures[0])
            quotes += 1
        else:  # nothing shown: no row of the choice keeps the tier (e.g. FP4 on GPUs before Blackwell)
            assert not any(
                cheapest_row(rows[name], setting, model, gpu, setting["token-basis"], flags) is not None
                for name in rows
                for model in setting["models"]
                for gpu in setting["gpus"]
            ), setting
            empty += 1
        assert explorer.page_errors == [], setting
    assert checked >= 5 * SETTINGS and quotes + empty == SETTINGS and quotes >= SETTINGS * 0.7


def test_a_value_the_preset_does_not_read_is_set_aside_as_the_cli_refuses_it(explorer):
    page = explorer.page
    setting = {"models": ["llama-3.1-8b"], "gpus": ["h100-sxm"], "gpu-count": "1", "precision": "bf16", "tier": FLOOR}
    setting |= {"token-basis": "input+output", "shape": "1024x1024", "preset": "on-demand-rental"}
    setting |= {"usd-per-gpu-hour": "", "usd-per-kwh": "0.3", "utilization": "", "years": ""}
    drive(page, setting)
    before = page.evaluate(FIGURES_JS)
    assert "--usd-per-kwh: not read" in page.inner_text("[data-testid=assumptions]")
    page.fill("[data-testid=usd-per-kwh]", "")
    assert page.evaluate(FIGURES_JS) == before  # the refused value moved nothing


def test_at_phone_width_the_answer_and_its_controls_fit_without_sideways_scrolling(browser, table):  # noqa: F811
    opened = OpenPage(browser, table[0], PHONE)
    page = opened.page
    sizes = page.evaluate("""() => ({
        page: document.documentElement.scrollWidth, body: document.body.scrollWidth, view: window.innerWidth,
        answer: document.querySelector('[data-testid=answer]').getBoundingClientRect().toJSON(),
        figure: document.querySelector('[data-testid=answer] [data-testid=usd-per-m]').getBoundingClientRect().toJSON(),
        controls: [...document.querySelectorAll('#controls select, #controls input')]
            .map(c => c.getBoundingClientRect().right),
        charts: [...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().right)})""")
    assert sizes["page"] <= 390 and sizes["body"] <= 390 and sizes["view"] == 390, sizes
    assert sizes["figure"]["bottom"] <= PHONE["height"] and sizes["answer"]["top"] < PHONE["height"] / 2, sizes
    assert all(right <= 390 for right in sizes["controls"] + sizes["charts"]), sizes
    page.close()


def test_the_page_requests_nothing_but_itself(browser, table):  # noqa: F811
    opened = OpenPage(browser, table[0], DESKTOP)
    drive(opened.page, random_setting(random.Random(3), options_of(opened.page)))
    assert opened.requests == [table[0].as_uri()] and opened.failed == []
    assert opened.console_errors == [] and opened.page_errors == []
    opened.page.close()


def test_the_url_carries_the_view_so_it_can_be_shared(browser, explorer):  # noqa: F811
    rng = random.Random(7)
    options = options_of(explorer.page)
    shown = 0
    for _ in range(2):
        setting = random_setting(rng, options)
        drive(explorer.page, setting)
        # The page's own location: Playwright's page.url follows replaceState a moment later, by an event.
        url, figures = explorer.page.evaluate("location.href"), explorer.page.evaluate(FIGURES_JS)
        assert "#" in url and f"preset={setting['preset']}" in url
        shared = browser.new_page(viewport=PHONE)
        shared.goto(url)
        assert shared.evaluate(FIGURES_JS) == figures
        shown += len(figures)
        assert shared.input_value("[data-testid=usd-per-gpu-hour]") == setting["usd-per-gpu-hour"]
        assert shared.input_value("[data-testid=tier]") == setting["tier"]
        shared.close()
    assert shown
