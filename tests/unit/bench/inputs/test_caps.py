"""Caps on suite and workload values (bench.inputs.suite, bench.inputs.workload): a typo's extra digits or an
exponent is refused in one line, from a suite file or a command-line flag alike, before any engine starts."""

import re

import pytest

from bench.errors import UserError
from bench.inputs.suite import load_suite, with_overrides
from bench.inputs.workload import Workload


@pytest.mark.parametrize(
    "text, field",
    [
        ("batch_sizes = [100000000000000]", "batch_sizes.0"),
        ("batch_sizes = [1, 65537]", "batch_sizes.1"),
        ("[workload]\nrequests_per_batch = 1000000000000", "workload.requests_per_batch"),
        ("[workload]\nisl = 100000000000", "workload.isl"),
        ("[workload]\nosl = 10000001", "workload.osl"),
        ("[engine]\nmax_model_len = 100000000000", "engine.max_model_len"),
        ("[engine]\nmax_num_batched_tokens = 100000000000", "engine.max_num_batched_tokens"),
        ("[engine]\ntensor_parallel_size = 100000", "engine.tensor_parallel_size"),
        ("[engine]\nstartup_timeout_s = inf", "engine.startup_timeout_s"),
        ("[serve]\nconcurrencies = [100000000000000]", "serve.concurrencies.0"),
        ("[serve]\nrequests_per_concurrency = 1000000000000", "serve.requests_per_concurrency"),
        ("[serve]\nrequest_rates = [inf]", "serve.request_rates.0"),
        ("[serve]\nrequest_rates = [nan]", "serve.request_rates.0"),
        ("[serve]\nrequest_rates = [1e9]", "serve.request_rates.0"),
        ("[serve]\nrequests_per_rate = 1000000000000", "serve.requests_per_rate"),
        ("[serve]\nmax_concurrency = 70000", "serve.max_concurrency"),
        ("[serve]\nslo_ttft_ms = inf", "serve.slo_ttft_ms"),
        ("[serve]\nslo_tpot_ms = 1e15", "serve.slo_tpot_ms"),
        ("[serve]\nendpoint_accelerator_count = 100000000000000", "serve.endpoint_accelerator_count"),
        ("point_timeout_s = inf", "point_timeout_s"),
        ("min_window_s = nan", "min_window_s"),
    ],
)
def test_a_suite_value_beyond_its_cap_is_one_line_naming_the_file_and_field(tmp_path, text, field):
    path = tmp_path / "suite.toml"
    path.write_text(text + "\n")
    with pytest.raises(UserError, match=rf"^{re.escape(str(path))} {re.escape(field)}: is ") as caught:
        load_suite(path)
    assert "\n" not in str(caught.value)


def test_values_at_the_caps_are_accepted():
    suite = with_overrides(
        load_suite(None),
        batch_sizes=[1, 65536],
        isl=5_000_000,
        osl=5_000_000,
        requests_per_batch=100_000,
        serve={"concurrencies": [65536], "request_rates": [100_000.0]},
    )
    assert suite.batch_sizes == (1, 65536) and suite.workload.requests_per_batch == 100_000
    assert suite.serve.concurrencies == (65536,) and suite.serve.request_rates == (100_000.0,)


@pytest.mark.parametrize(
    "overrides, field",
    [
        (dict(batch_sizes=[100_000_000_000_000]), "batch_sizes.0"),
        (dict(requests_per_batch=1_000_000_000_000), "workload.requests_per_batch"),
        (dict(isl=100_000_000_000), "workload.isl"),
        (dict(serve={"concurrencies": [100_000_000_000_000]}), "serve.concurrencies.0"),
    ],
)
def test_command_line_values_get_the_same_caps(overrides, field):
    with pytest.raises(UserError, match=rf"^command line {re.escape(field)}: is "):
        with_overrides(load_suite(None), **overrides)


def test_isl_plus_osl_has_a_cap_even_for_a_card_that_gives_no_context():
    Workload(isl=5_000_000, osl=5_000_000).check_fits(0, "no-context")  # exactly the cap
    with pytest.raises(UserError, match=r"^isl\+osl: 9999999\+2 exceeds no-context's context of 10000000 tokens"):
        Workload(isl=9_999_999, osl=2).check_fits(0, "no-context")
