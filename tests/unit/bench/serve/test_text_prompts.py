from types import SimpleNamespace

from bench.inputs.cards import load_card
from bench.inputs.suite import ServeSettings, Suite
from bench.serve import sweep


def test_text_prompts_at_a_poisson_rate_come_as_a_list_decoded_before_the_point(monkeypatch):
    # Poisson arrivals are drawn one per prompt (len), so a lazy stream of decoded prompts cannot be sent.
    monkeypatch.setattr(sweep, "_tokenizer", lambda path: SimpleNamespace(decode=lambda ids: f"{len(ids)} tokens"))
    suite = Suite(mode="serve", serve=ServeSettings(prompt_format="text", request_rates=(1.0,)))
    run = SimpleNamespace(suite=suite, workload_of=lambda key: suite.workload)
    point = sweep.ServePointMeasurement(run, target=None)

    prompts = point._measured_prompts(load_card("tiny-dense"), "key", sweep.LoadPoint("rate", 1.0, 3))

    assert prompts == [f"{suite.workload.isl} tokens"] * 3
