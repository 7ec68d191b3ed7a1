"""Fuzzing the hardware catalog and assumption file parsers: they return, or raise a one-line UserError
(tests.support.fuzz)."""

import json

from hypothesis import given
from hypothesis import strategies as st

from tests.support.fuzz import FUZZ, mutated, raw, returns_or_user_error, scalars, toml, write

# Hardware catalogs and assumption files (TOML).
HARDWARE_ENTRY = {"match": "MY GPU", "tdp_w": 300, "price_usd": 1000, "memory_gb": 24}


@FUZZ
@given(
    st.one_of(
        raw,
        mutated(HARDWARE_ENTRY).map(
            lambda e: (
                "[my-gpu]\n" + "".join(f"{json.dumps(k)} = {toml(v)}\n" for k, v in e.items() if v is not None)
            ).encode()
        ),
    )
)
def test_hardware_files(data):
    from tokencost.pricing.catalog import find_hardware, load_catalog

    path = write(data, "hardware.toml")
    returns_or_user_error(lambda: find_hardware("MY GPU", load_catalog(path)))


@FUZZ
@given(
    st.one_of(
        raw,
        st.dictionaries(
            st.sampled_from(
                ["usd_per_kwh", "pue", "amortization_years", "utilization", "hosting_usd_per_gpu_hour", "surprise"]
            ),
            scalars,
            max_size=3,
        ).map(lambda d: "".join(f"{k} = {toml(v)}\n" for k, v in d.items() if v is not None).encode()),
    )
)
def test_assumption_files(data):
    from tokencost.pricing.assumptions import load_assumptions

    returns_or_user_error(lambda: load_assumptions(None, write(data, "assumptions.toml")))
