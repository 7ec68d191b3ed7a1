"""Economic assumptions: a preset (data/presets.toml), a user's override file, and --set flags."""

import hashlib
import json
import tomllib
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from bench.errors import UserError
from bench.validation import as_user_error, parse
from tokencost.pricing.reads import Override, check_read

MAX_RATE_USD_PER_HOUR = 10_000.0  # a preset's own rental rate per accelerator-hour: beyond any real one
MAX_HOST_W = 10_000.0  # a host's share per GPU: a whole 8-GPU node's non-GPU power is well below this
MAX_INTERCONNECT_USD_PER_GPU = 100_000.0  # a fabric's share per GPU: a three-tier NDR fat tree is ~$6,600
# Values that move no figure at the gpu boundary: left out of the hash there, so a preset that prices as it
# did before the boundary existed keeps its hash (and the costs.csv files priced with it stay comparable).
INERT_AT_GPU_BOUNDARY = ("power_boundary", "host_w_per_gpu", "host_w_by_hardware", "interconnect_w_per_gpu")
# The fabric between the nodes of a multi-node engine, priced for its records only (tokencost.pricing.hourly).
# Left out of the hash while they hold the default preset's values, so that every preset keeps the hash it had
# before they existed; a value changed by a preset, a file or --set is hashed.
INTERCONNECT_KEYS = ("interconnect_usd_per_gpu", "interconnect_w_per_gpu", "interconnect_usd_per_gpu_hour")
# The pricing commands' flags, each setting one assumption as `--set KEY=VALUE` does (tokencost.cli.args).
FLAGS = {
    "--usd-per-gpu-hour": "usd_per_gpu_hour",
    "--usd-per-kwh": "usd_per_kwh",
    "--utilization": "utilization",
    "--years": "life_years",
}
SET_SOURCE = "set on the command line"
# Changes that decide which other assumptions are read: with one, a refusal names the changed assumptions.
RESHAPING = frozenset({"ownership", "rate", "power_boundary", "usd_per_gpu_hour"})
FINITE = ConfigDict(allow_inf_nan=False)


class Assumptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str
    description: str
    ownership: Literal["owned", "rented"]
    life_years: Annotated[float, Field(gt=0, le=50)]
    cost_of_capital: Annotated[float, Field(ge=0, le=1)]
    utilization: Annotated[float, Field(gt=0, le=1)]
    include_server_share: bool
    usd_per_kwh: Annotated[float, Field(ge=0, le=10)]
    pue: Annotated[float, Field(ge=1, le=5)]
    hosting_usd_per_kw_month: Annotated[float, Field(ge=0, le=10_000)]
    idle_power_fraction: Annotated[float, Field(ge=0, le=1)]
    # Which watts J/token and tok/s per MW are reported at, and which the electricity bill covers
    # (tokencost.pricing.hourly: gpu = the metered devices; node = + the host's share; facility = node x PUE).
    power_boundary: Literal["gpu", "node", "facility"]
    host_w_per_gpu: Annotated[float, Field(ge=0, le=MAX_HOST_W)]  # the host's share per GPU, by default
    host_w_by_hardware: dict[str, Annotated[float, Field(ge=0, le=MAX_HOST_W)]] = {}  # per catalog key, per unit
    # Multi-node records only: the fabric's capital per GPU (owned, amortised as capital), its watts per GPU
    # (billed as the host's are, beyond the gpu boundary) and, rented, its rate per GPU-hour (0: in the rate).
    interconnect_usd_per_gpu: Annotated[float, Field(ge=0, le=MAX_INTERCONNECT_USD_PER_GPU)]
    interconnect_w_per_gpu: Annotated[float, Field(ge=0, le=MAX_HOST_W)]
    interconnect_usd_per_gpu_hour: Annotated[float, Field(ge=0, le=MAX_RATE_USD_PER_HOUR)]
    # for rented: which catalog rate, or "rates" for the preset's own table
    rate: Literal["rental_usd_per_hour", "reserved_usd_per_hour", "rates"]
    rates: dict[str, Annotated[float, Field(gt=0, le=MAX_RATE_USD_PER_HOUR)]] = {}  # the cap refuses inf too
    # A user's own price per unit-hour (--usd-per-gpu-hour), in place of the catalog's rate or the rates table:
    # setting it rents the hardware. None (the presets'): left out of the hash, so that every preset keeps its own.
    usd_per_gpu_hour: Annotated[float, Field(gt=0, le=MAX_RATE_USD_PER_HOUR)] | None = None
    api: str = "gpt-4o-mini"
    sources: dict[str, str] = {}

    @property
    def hash(self) -> str:
        left_out = set(INERT_AT_GPU_BOUNDARY) if self.power_boundary == "gpu" else set()
        left_out |= {key for key in INTERCONNECT_KEYS if getattr(self, key) == _default_values()[key]}
        left_out |= {"usd_per_gpu_hour"} if self.usd_per_gpu_hour is None else set()
        values = self.model_dump(exclude={"sources"} | left_out)
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def billed_only_while_serving(self) -> bool:
        """On-demand rental: hours are paid only while serving, so there is no fixed monthly bill."""
        return self.ownership == "rented" and self.rate == "rental_usd_per_hour"

    def with_changes(self, **changes: Any) -> "Assumptions":
        changed: Assumptions = parse(Assumptions, self.model_dump() | changes, "assumptions")
        return changed


def _presets() -> dict[str, Any]:
    return tomllib.loads(resources.files("tokencost").joinpath("data/presets.toml").read_text())


@lru_cache(maxsize=1)
def _default_values() -> dict[str, Any]:
    """The default preset's values: what every preset starts from."""
    presets = _presets()
    return _flatten(presets[presets["default"]])[0]


def preset_names() -> list[str]:
    return [k for k, v in _presets().items() if isinstance(v, dict)]


def load_assumptions(
    preset: str | None = None,
    override: Path | None = None,
    settings: Sequence[str] = (),
    flags: Mapping[str, float] | None = None,
    catalog_keys: Collection[str] | None = None,
) -> Assumptions:
    """The named preset (default: the catalog's default), then an override file, then the command line: key=value
    settings and pricing flags (FLAGS, e.g. {"--years": 5}). The name says what the command line changed, e.g.
    'owned+usd_per_kwh=0.12'; a change the result does not read (tokencost.pricing.reads) is refused, a hardware
    table's key checked against `catalog_keys` (default: the shipped catalog's)."""
    presets = _presets()
    name = preset or presets["default"]
    if name not in preset_names():
        raise UserError("--preset", f"{name!r} is not a preset", f"use one of: {', '.join(preset_names())}")
    values, sources = _flatten(presets[presets["default"]])  # every field has a value...
    preset_values, preset_sources = _flatten(presets[name])  # ...and the preset says its own
    values |= preset_values
    sources |= preset_sources
    values["name"] = name
    where = "assumptions"  # a bad value is named with where it came from: the preset, the file or --set
    if override is not None:
        file_values, file_sources = _flatten(_read_override(Path(override)), f"from {override}")
        where = f"--assumptions {override}"
        _check_keys(file_values, where)
        values |= file_values
        sources |= file_sources
        values["name"] = file_values.get("name", f"{name}+{Path(override).stem}")
        if settings or flags:
            _build(values, sources, where)
    changes = _command_line(settings, flags or {})
    for change, typed in changes:
        values[change.key] = change.value
        sources[change.key] = f"{SET_SOURCE}: {typed}"
        values["name"] += f"+{change.key}={_shown(change.value)}"
        where = "--set"
    changed = {change.key for change, _ in changes}
    if "usd_per_gpu_hour" in changed and "ownership" not in changed and values["ownership"] == "owned":
        values["ownership"] = "rented"
        sources["ownership"] = f"{SET_SOURCE}: a price per GPU-hour (usd_per_gpu_hour) rents the hardware"
    built = _build(values, sources, where)
    if catalog_keys is None:
        from tokencost.pricing.catalog import load_catalog

        catalog_keys = [entry.key for entry in load_catalog()]
    reshaped = override is not None or bool(changed & RESHAPING)
    check_read(
        built, [change for change, _ in changes], f"'{built.name}'" if reshaped else f"preset '{name}'", catalog_keys
    )
    return built


def _command_line(settings: Sequence[str], flags: Mapping[str, float]) -> list[tuple[Override, str]]:
    """--set settings and pricing flags as overrides, each with how it was typed; a flag's value checked against
    its assumption's bounds here, so that the error names the flag."""
    changes = []
    for setting in settings:
        key, value = _parse_setting(setting)
        _check_keys({key: value}, "--set")
        changes.append((Override(key, value, f"--set {key}"), setting))
    for flag, value in flags.items():
        key = FLAGS[flag]
        if twice := next((c.option for c, _ in changes if c.key == key), None):
            raise UserError(flag, f"sets {key}, which {twice} sets too", f"give {key} once, with {flag} or {twice}")
        try:
            TypeAdapter(Assumptions.model_fields[key].rebuild_annotation(), config=FINITE).validate_python(value)
        except ValidationError as e:
            error = as_user_error(e, Assumptions, flag)
            raise UserError(flag, f"is {value:g}", error.fix) from None
        changes.append((Override(key, value, flag), f"{flag} {value:g}"))
    return changes


def _shown(value: object) -> str:
    """A value in an assumptions' name, as TOML would write it, e.g. 0.12, rented, {h100-sxm=2.1}."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={_shown(v)}" for k, v in value.items()) + "}"
    return str(value)


def _flatten(table: dict[str, Any], default_source: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    values, sources = {}, {}
    for key, raw in table.items():
        if isinstance(raw, dict) and "value" in raw:
            values[key] = raw["value"]
            sources[key] = raw.get("source", default_source)
        else:
            values[key] = raw
            if default_source and key not in ("name", "description"):
                sources[key] = default_source
    return values, sources


def _known_keys() -> set[str]:
    return set(Assumptions.model_fields) - {"sources"}


def _check_keys(values: dict[str, Any], where: str) -> None:
    for key in values:
        if key not in _known_keys():
            raise UserError(f"{where} {key}", "is not an assumption", f"use one of: {', '.join(sorted(_known_keys()))}")


def _read_override(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError("--assumptions", f"{path} does not exist", "give the path of a TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserError("--assumptions", f"{path} is not valid TOML ({e})", "fix the TOML") from None
    except OSError as e:
        raise UserError(
            "--assumptions", f"{path} cannot be read ({e.strerror or e})", "give the path of a TOML file"
        ) from None


def _parse_setting(setting: str) -> tuple[str, object]:
    key, sep, text = setting.partition("=")
    if not sep or not key.strip():
        raise UserError("--set", f"{setting!r} is not key=value", "write e.g. --set usd_per_kwh=0.12")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()  # a bare word, e.g. ownership=rented
    return key.strip(), value


def _build(values: dict[str, Any], sources: dict[str, Any], where: str = "assumptions") -> Assumptions:
    built: Assumptions = parse(
        Assumptions, {k: v for k, v in values.items() if k in _known_keys()} | {"sources": sources}, where
    )
    return built


def preset_settings(name: str) -> list[dict[str, Any]]:
    """Each assumption of preset `name` as it prices: its key, value and source, and `set_by`, the preset that
    gives it: `name` itself, or the default preset, whose values every preset starts from. An assumption no preset
    sets (usd_per_gpu_hour, the user's own price) is left out."""
    presets = _presets()
    own, _ = _flatten(presets[name])
    a = load_assumptions(name)
    return [
        {
            "key": key,
            "value": value,
            "source": a.sources.get(key, ""),
            "set_by": name if key in own else presets["default"],
        }
        for key, value in a.model_dump(exclude={"name", "description", "sources"}).items()
        if value is not None
    ]
