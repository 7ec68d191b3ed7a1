"""`tokencost presets NAME`: every assumption of the preset with the value and source its file gives (or, where it
gives none, the default preset's), as text that --set takes back, and as JSON."""

import json
import tomllib
from importlib import resources

import pytest

from tests.support.cli import tokencost
from tokencost.pricing.assumptions import preset_names

PRESETS = tomllib.loads(resources.files("tokencost").joinpath("data/presets.toml").read_text())


def _in_file(name: str) -> dict[str, tuple]:
    """Each assumption the preset file gives `name`, with where it comes from: (value, source, preset)."""
    given = {}
    for preset in (PRESETS["default"], name):
        for key, raw in PRESETS[preset].items():
            if key == "description":
                continue
            value, source = (
                (raw["value"], raw.get("source", "")) if isinstance(raw, dict) and "value" in raw else (raw, "")
            )
            given[key] = (value, source, preset)
    return given


@pytest.mark.parametrize("name", preset_names())
def test_presets_name_json_has_the_preset_files_numbers_and_sources(name):
    result = tokencost("presets", name, "--json")
    assert result.returncode == 0, result.stderr
    (preset,) = json.loads(result.stdout)["presets"]
    assert preset["name"] == name and preset["description"] == PRESETS[name]["description"]
    shown = {a["key"]: (a["value"], a["source"], a["set_by"]) for a in preset["assumptions"]}
    assert shown == _in_file(name)


@pytest.mark.parametrize("name", ["owned", "on-demand-rental", "inferencex-hyperscaler"])
def test_presets_name_prints_each_value_as_toml_with_its_source(name):
    result = tokencost("presets", name)
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.startswith(f"{name} ({PRESETS[name]['ownership']}; hash ") and PRESETS[name]["description"] in header
    values, sources, key = {}, {}, None
    for line in lines:
        if line.startswith("    "):
            sources[key] = f"{sources.get(key, '')} {line.strip()}".strip()
        else:
            key, _, text = line.partition(" = ")
            values[key] = tomllib.loads(f"v = {text}")["v"]  # the value as --set KEY=VALUE takes it
    for key, (value, source, preset) in _in_file(name).items():
        assert values[key] == value, key
        said = source or "no source given"
        expected = said if preset == name else f"from preset '{preset}': {said}"
        assert " ".join(sources[key].split()) == " ".join(expected.split()), key


def test_presets_without_a_name_lists_them_and_says_how_to_see_one():
    result = tokencost("presets")
    assert [line.split()[0] for line in result.stdout.splitlines()[: len(preset_names())]] == preset_names()
    assert "tokencost presets NAME" in result.stdout


def test_an_unknown_preset_name_is_one_line_exit_2():
    result = tokencost("presets", "owend", "--json")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("tokencost: error: NAME: 'owend' is not a preset; use one of: owned,")
