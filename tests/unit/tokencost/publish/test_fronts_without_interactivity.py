"""A serving run none of whose points has an interactivity still reports: its fronts figure says why it is empty."""

from tests.support.records_factory import serve_record, write_run
from tokencost.publish.write import write_report


def test_a_serving_run_without_any_interactivity_reports_and_says_so(tmp_path, pricing):
    # Every request's tokens in one read (a lagging server merges them): TPOT 0, so no interactivity.
    records = [
        serve_record(concurrency=c, interactivity_tok_s_user=None, interactivity_p90_tok_s_user=None) for c in (1, 4)
    ]
    report = write_report(write_run(tmp_path, *records), pricing)
    svg = next(p for p in report.files if p.suffix == ".svg" and "interactivity" in p.name)
    assert "no serving point has a measured interactivity" in svg.read_text()
