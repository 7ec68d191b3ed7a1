"""The plots' rules, read off the matplotlib Figure objects a report draws: no bars on a log axis, every legend
entry drawn, one colour per model across every plot of a page, plain dollar ticks, throughput per GPU or vCPU as
priced, and the hit-rate plot comparing like with like (one line per model and batch size).

The reports are built from the CPU demo's records (a copy of a real published run), the serving demo's
(results/2026-11-28-cpu-serve-demo), SYNTHETIC H100 records (tests/support/records_factory) and made-up
workload records.
"""

import math
import re

import pytest
from matplotlib.colors import to_rgba
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from bench.run.records import read_records
from tests.conftest import CPU_DEMO
from tests.support import REPO
from tests.support.records_factory import synthetic_h100_records, workload_record
from tokencost.publish.figures import model_palette, per_unit, report_palette
from tokencost.publish.write import build_report

SERVE_DEMO = REPO / "results" / "2026-11-28-cpu-serve-demo"
MONEY = re.compile(r"^\$")


def plots(report) -> dict[str, Figure]:
    return {plot.name: plot.figure for section in report.sections for plot in section.plots}


@pytest.fixture(scope="module")
def two_hardware(pricing):
    return build_report(read_records(CPU_DEMO) + synthetic_h100_records(), pricing)


@pytest.fixture(scope="module")
def serving(pricing):
    return build_report(read_records(SERVE_DEMO), pricing)


@pytest.fixture(scope="module")
def workloads(pricing):
    return build_report(
        [
            workload_record("random"),
            workload_record(),
            workload_record("random", batch=4),
            workload_record(batch=4, probe_s=1.0, cached_probe_s=0.5),
        ],
        pricing,
    )


@pytest.fixture(scope="module")
def every_figure(two_hardware, serving, workloads) -> list[tuple[str, Figure]]:
    return [(name, fig) for report in (two_hardware, serving, workloads) for name, fig in plots(report).items()]


def drawn(fig: Figure) -> None:
    fig.canvas.draw()  # tick labels and legends are laid out at draw time


def test_the_pages_draw_the_plots_these_tests_read(every_figure):
    names = {name for name, _ in every_figure}
    assert {"cost_vs_batch", "dense_vs_moe", "gpu_vs_gpu", "roofline", "cost_vs_interactivity"} <= names
    assert {"throughput_vs_interactivity", "cost_vs_hit_rate", "sensitivity", "cost_components"} <= names


def test_no_bars_on_a_log_axis(every_figure):
    for name, fig in every_figure:
        for ax in fig.axes:
            bars = [c for c in ax.containers if isinstance(c, BarContainer)]
            if not bars:
                continue
            horizontal = bars[0].orientation == "horizontal"
            scale = ax.get_xscale() if horizontal else ax.get_yscale()
            assert scale == "linear", name


def test_dense_vs_moe_is_points_around_one_on_a_symmetric_axis(two_hardware):
    fig = plots(two_hardware)["dense_vs_moe"]
    [ax] = fig.axes
    assert not ax.containers and ax.get_yscale() == "log"
    low, high = ax.get_ylim()
    assert math.log2(low) == pytest.approx(-math.log2(high))  # 1 in the middle: half and twice equally far
    assert any(list(line.get_ydata()) == [1, 1] for line in ax.get_lines())  # the line at 1
    drawn(fig)
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert "1x" in labels and all(label.endswith("x") for label in labels)


def test_every_legend_entry_is_drawn(every_figure):
    for name, fig in every_figure:
        for ax in fig.axes:
            legend = ax.get_legend() or (fig.legends[0] if fig.legends else None)
            if legend is None:
                continue
            for handle, text in zip(legend.legend_handles, legend.get_texts()):
                assert text.get_text() and text.get_visible(), name
                assert handle is not None and handle.get_visible(), (name, text.get_text())
                alpha = handle.get_alpha()
                assert alpha is None or alpha > 0, (name, text.get_text())
                if hasattr(handle, "get_facecolors"):  # a scatter's entry: some face that is not transparent
                    faces = handle.get_facecolors()
                    assert len(faces) and max(face[3] for face in faces) > 0, (name, text.get_text())
                if hasattr(handle, "get_marker"):  # a line: a marker or a line must show
                    shows_line = handle.get_linestyle() not in ("None", "none", "") and handle.get_linewidth() > 0
                    assert shows_line or handle.get_marker() not in (None, "None", "none", ""), (name, text)


def test_one_colour_per_model_across_every_plot_of_a_page(two_hardware, serving, workloads):
    for report in (two_hardware, serving, workloads):
        palette = report_palette(report)
        assert palette == model_palette(report.offline, report.serving)
        assert len(set(palette.values())) == len(palette)
        for name, fig in plots(report).items():
            for ax in fig.axes:
                legend = ax.get_legend()
                if legend is None:
                    continue
                for handle, text in zip(legend.legend_handles, legend.get_texts()):
                    models = [m for m in palette if re.match(rf"{re.escape(m)}\b", text.get_text())]
                    if not models or not hasattr(handle, "get_color"):
                        continue
                    colour = to_rgba(handle.get_color())
                    assert colour == pytest.approx(palette[max(models, key=len)]), (name, text.get_text())


def test_a_model_has_the_same_colour_in_two_reports_with_the_same_models(pricing, two_hardware):
    alone = build_report(read_records(CPU_DEMO), pricing)
    assert report_palette(alone) == report_palette(two_hardware)


def test_money_axes_tick_in_plain_dollars(every_figure):
    money_labels = ("$ per million tokens (input + output)", "$ per serving hour")
    checked = 0
    for name, fig in every_figure:
        drawn(fig)
        for ax in fig.axes:
            for axis, label in ((ax.xaxis, ax.get_xlabel()), (ax.yaxis, ax.get_ylabel())):
                if label not in money_labels:
                    continue
                ticks = [t.get_text() for t in axis.get_ticklabels(which="both") if t.get_text()]
                assert ticks, name
                for tick in ticks:
                    assert MONEY.match(tick) and not re.search(r"\$\^|\\|e[-+]?\d|10\^", tick), (name, tick)
                    float(tick.lstrip("$").replace(",", ""))  # a plain number
                checked += 1
    assert checked >= 6


def test_throughput_is_per_vcpu_on_a_cpu_and_per_gpu_on_a_gpu(serving, two_hardware):
    [ax] = plots(serving)["throughput_vs_interactivity"].axes
    assert ax.get_ylabel() == "output tokens/s per vCPU"
    caption = next(p.caption for s in serving.sections for p in s.plots if p.name == "throughput_vs_interactivity")
    assert "per vCPU" in caption and "per GPU" not in caption
    tables = [s.table for s in serving.sections if s.table is not None] + [
        s.full_table for s in serving.sections if s.full_table is not None
    ]
    headers = [str(c) for table in tables for c in table.columns]
    assert "output tok/s per vCPU" in headers and not [h for h in headers if "per GPU" in h]
    offline = two_hardware.offline
    assert per_unit(offline[offline["hardware"] == "h100-sxm"]) == "GPU"
    assert per_unit(offline[offline["hardware"] == "cpu-vcpu"]) == "vCPU"
    assert per_unit(offline) == "GPU or vCPU"


def test_the_hit_rate_plot_draws_one_line_per_model_and_batch(workloads):
    fig = plots(workloads)["cost_vs_hit_rate"]
    [ax] = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert set(lines) == {"tiny-dense, batch 1", "tiny-dense, batch 4"}
    assert lines["tiny-dense, batch 1"].get_linestyle() != lines["tiny-dense, batch 4"].get_linestyle()
    for line in lines.values():  # the random floor and the shared prefix of one batch size, in order of hit rate
        rates = list(line.get_xdata())
        assert len(rates) == 2 and rates == sorted(rates) and rates[0] == 0
    title = ax.get_legend().get_title().get_text()
    assert "batch" in title and "model" in title and "workload" in title
