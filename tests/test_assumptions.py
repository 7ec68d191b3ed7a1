import pytest

from bench.errors import UserError
from tokencost.assumptions import load_assumptions


def test_defaults_carry_sources():
    a = load_assumptions()
    assert a.name == "owned-default"
    for key in ("life_years_source", "usd_per_kwh_source", "pue_source"):
        assert a.sources[key]


def test_override_file_changes_only_what_it_names(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text('name = "cheap-power"\nusd_per_kwh = 0.05\n')
    a = load_assumptions(path)
    assert (a.name, a.usd_per_kwh, a.pue) == ("cheap-power", 0.05, load_assumptions().pue)
    assert a.to_record()["hash"] != load_assumptions().to_record()["hash"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("pue = 0.5", r"^assumptions pue: is 0.5; give a value in \[1, 5\]"),
        ("utilization = 0", r"^assumptions utilization: is 0; give a value in \(0, 1\]"),
        ('life_years = "four"', r"^assumptions life_years: is 'four'; give a number"),
        ("colour = 3", r"^assumptions colour: is not a known assumption"),
        ("pue = ", r"^--assumptions: .* is not valid TOML"),
    ],
)
def test_bad_overrides_name_the_field_and_the_fix(tmp_path, text, message):
    path = tmp_path / "a.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        load_assumptions(path)
