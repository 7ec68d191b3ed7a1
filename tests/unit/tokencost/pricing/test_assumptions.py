import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.errors import UserError
from tests.support.examples import examples
from tokencost.pricing.assumptions import load_assumptions, preset_names


def test_presets_cover_owned_rented_and_inferencex():
    assert {
        "owned",
        "hyperscaler-owned",
        "neocloud-owned",
        "on-demand-rental",
        "reserved-rental",
        "inferencex-hyperscaler",
        "inferencex-rental",
    } <= set(preset_names())


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_loads_and_every_value_it_sets_has_a_source(name):
    a = load_assumptions(name)
    assert a.name == name
    for key in ("utilization", "api"):
        assert a.sources[key].strip()


def test_default_is_owned_with_sources():
    a = load_assumptions()
    assert (a.name, a.ownership, a.life_years, a.usd_per_kwh, a.pue) == ("owned", "owned", 4, 0.08, 1.58)
    assert "EIA" in a.sources["usd_per_kwh"] and "Uptime" in a.sources["pue"]


def test_override_file_then_set_flags_win_and_change_the_hash(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('usd_per_kwh = 0.05\npue = { value = 1.2, source = "our DC, 2026" }\n')
    a = load_assumptions("neocloud-owned", path, ["utilization=0.5", "ownership=owned"])
    assert (a.usd_per_kwh, a.pue, a.utilization, a.cost_of_capital) == (0.05, 1.2, 0.5, 0.12)
    assert a.sources["pue"] == "our DC, 2026" and "mine.toml" in a.sources["usd_per_kwh"]
    assert a.sources["utilization"].startswith("set on the command line")
    assert a.name == "neocloud-owned+mine+utilization=0.5+ownership=owned"
    assert a.hash != load_assumptions("neocloud-owned").hash


@pytest.mark.parametrize(
    "text, message",
    [
        ("pue = 0.5", r"^--assumptions \S+ pue: is 0.5; input should be greater than or equal to 1"),
        ("utilization = 0", r"^--assumptions \S+ utilization: is 0; input should be greater than 0"),
        ('life_years = "four"', r"^--assumptions \S+ life_years: is 'four'; input should be a valid number"),
        ("colour = 3", r"colour: is not an assumption"),
        ('ownership = "leased"', r"^--assumptions \S+ ownership: is 'leased'; input should be 'owned' or 'rented'"),
        ("rates = { h100-sxm = -2 }", r"^--assumptions \S+ rates.h100-sxm: is -2; input should be greater than 0"),
        ("pue = ", r"^--assumptions: .* is not valid TOML"),
    ],
)
def test_bad_overrides_name_the_field_and_the_fix(tmp_path, text, message):
    path = tmp_path / "a.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        load_assumptions(override=path)


def test_unknown_preset_and_bad_set_flags():
    with pytest.raises(UserError, match=r"^--preset: 'cheap' is not a preset; use one of: owned"):
        load_assumptions("cheap")
    with pytest.raises(UserError, match=r"^--set: 'pue' is not key=value"):
        load_assumptions(settings=["pue"])
    with pytest.raises(UserError, match=r"^--set pue: is 9; input should be less than or equal to 5"):
        load_assumptions(settings=["pue=9"])


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_any_override_file_either_loads_or_is_a_user_error(tmp_path, text):
    path = tmp_path / "fuzz.toml"
    path.write_text(text)
    try:
        load_assumptions(override=path)
    except UserError as e:
        assert "\n" not in str(e)


@settings(max_examples=examples(200))
@given(st.lists(st.text(max_size=30), max_size=3))
def test_any_set_flags_either_load_or_are_a_user_error(flags):
    try:
        load_assumptions(settings=flags)
    except UserError as e:
        assert "\n" not in str(e)
