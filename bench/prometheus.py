"""A server's /metrics text read by prometheus_client's own parser: every /metrics read of the harness goes here.

vLLM writes its metrics with prometheus_client, so the same library reads them: `# HELP` and `# TYPE` lines,
escaped label values, a counter's `_total` and `_created` samples, a histogram's `_bucket`, `_sum` and `_count`.
"""

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def samples(text: str) -> list[Sample]:
    """Every sample of the exposition, in order (each with its name, labels as a dict, and value). A body that
    stops being Prometheus text (an error page, a cut-off answer) gives the samples read before that point."""
    found: list[Sample] = []
    try:
        for family in text_string_to_metric_families(text):
            found += family.samples
    except ValueError:
        pass
    return found


def summed(text: str, names: set[str]) -> dict[str, float]:
    """The value of each sample named in `names`, summed over its label sets (a server's engines); a name the
    text lacks is left out."""
    totals: dict[str, float] = {}
    for sample in samples(text):
        if sample.name in names:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals
