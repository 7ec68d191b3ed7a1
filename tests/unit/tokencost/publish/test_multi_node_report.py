"""A report of a multi-node engine says so: its nodes beside its GPUs, the interconnect among the assumptions."""

import pandas as pd

from tests.support.records_factory import point_record, write_run
from tests.unit.tokencost.pricing.test_multi_node import H100, TWO_NODES
from tokencost.publish.write import write_report


def h100_points(nodes):
    """Batch 1 and 8 on 16 H100s, over `nodes` ([] for one machine)."""
    hardware = {"accelerator": H100, "accelerator_count": 16, "gpus": [], "nodes": nodes}
    return [
        point_record(
            batch=batch,
            output_tok_s=tok_s,
            power_w=8000.0,
            accelerator=H100,
            units=16,
            method="nvml-counter",
            hardware=hardware,
        )
        for batch, tok_s in ((1, 500.0), (8, 3000.0))
    ]


def test_a_two_node_report_shows_the_nodes_and_the_interconnect_assumption(tmp_path, pricing):
    run_dir = write_run(tmp_path / "two-nodes", *h100_points(TWO_NODES))
    write_report(run_dir, pricing)
    table = pd.read_csv(run_dir / "costs.csv")
    assert table["nodes"].eq(2).all() and table["accelerator_count"].eq(16).all()
    assert table["interconnect_usd_per_h"].gt(0).all()
    markdown = (run_dir / "report.md").read_text()
    for text in (
        "NVIDIA H100 80GB HBM3 x 16 over 2 nodes",
        "interconnect_w_per_gpu = 59.2",
        "interconnect_usd_per_gpu = 4247.5: assumption, not measured",
        "interconnect_usd_per_gpu_hour = 0.0",
        "2 nodes, interconnect assumed 4247.5 USD/GPU",
        "and the interconnect between nodes",
    ):
        assert text in markdown, text
    assert (run_dir / "cost_components.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_one_machine_report_neither_prices_nor_lists_the_interconnect(tmp_path, pricing):
    run_dir = write_run(tmp_path / "one-machine", *h100_points([]))
    write_report(run_dir, pricing)
    table = pd.read_csv(run_dir / "costs.csv")
    assert table["nodes"].eq(1).all() and table["interconnect_usd_per_h"].eq(0).all()
    markdown = (run_dir / "report.md").read_text()
    assert "interconnect" not in markdown and "NVIDIA H100 80GB HBM3 x 16 " in markdown
    assert "over 2 nodes" not in markdown
