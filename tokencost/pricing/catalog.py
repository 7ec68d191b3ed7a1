"""The hardware catalog (data/hardware.toml): specs, prices and rental rates, each sourced and dated."""

import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictStr,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic_core import PydanticCustomError

from bench.errors import UserError
from bench.validation import as_user_error

# Words that name a vendor or a product line, not a part: 'NVIDIA H200' and 'AMD Instinct MI300X' name h200 and mi300x.
VENDOR_WORDS = frozenset({"nvidia", "amd", "geforce", "instinct", "tesla", "radeon"})
EXAMPLE_RATE_USD_PER_HOUR = 2.0  # only a placeholder in an error's suggested command


# Strict per field: a strict dataclass would take only instances, not the file's tables.
@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid", allow_inf_nan=False))
class SourcedValue:
    """A catalog number with where it came from and when."""

    # TOML has nan and inf: either would price every token at nan or $0/inf without a word
    value: Annotated[StrictFloat, Field(ge=0)]
    source: StrictStr = ""
    date: StrictStr = ""


def _bare_number(value: object, handler: ValidatorFunctionWrapHandler) -> SourcedValue:
    """A user's file may give a figure as the bare number; the shipped catalog always gives value, source and
    date. A bare number's problem is named by its figure, not by a `value` the user did not write."""
    figure: SourcedValue
    if isinstance(value, dict):
        figure = handler(value)
        return figure
    try:
        figure = handler({"value": value})
    except ValidationError as e:
        first = e.errors()[0]
        raise PydanticCustomError(first["type"], first["msg"]) from None
    return figure


Figure = Annotated[SourcedValue, WrapValidator(_bare_number)]


def _names(aliases: object) -> object:
    """Aliases are names a user may type: each needs a letter or digit besides vendor words."""
    if not isinstance(aliases, list) or not all(isinstance(a, str) and normalise(a) for a in aliases):
        raise PydanticCustomError("aliases", 'give a list of names, e.g. aliases = ["H100"]')
    return aliases


def _a_pattern(match: str) -> str:
    try:
        re.compile(match)
    except re.error as e:
        raise PydanticCustomError("pattern", "give a regular expression ({error})", {"error": str(e)}) from None
    return match


class HardwareTable(BaseModel):
    """One [key] table of a hardware file: names, then figures, each optional."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    display_name: str | None = None  # default: the key
    match: Annotated[str, AfterValidator(_a_pattern)] | None = None  # default: the key, literally
    aliases: Annotated[list[str], BeforeValidator(_names)] = []
    memory_gb: Figure | None = None
    bandwidth_tbs: Figure | None = None
    tdp_w: Figure | None = None
    bf16_tflops: Figure | None = None
    fp8_tflops: Figure | None = None  # absent: no FP8 tensor cores (vLLM runs FP8 weights weight-only there)
    fp4_tflops: Figure | None = None  # absent: no FP4 tensor cores (FP4 is not run there)
    price_usd: Figure | None = None
    server_share_usd: Figure | None = None
    rental_usd_per_hour: Figure | None = None
    rental_min_usd_per_hour: Figure | None = None
    rental_max_usd_per_hour: Figure | None = None
    reserved_usd_per_hour: Figure | None = None
    idle_w: Figure | None = None

    @model_validator(mode="before")
    @classmethod
    def _a_table(cls, data: object) -> object:
        if not isinstance(data, dict):
            raise PydanticCustomError("table", "write it as a [table] of its names and figures")
        return data


NUMERIC_FIELDS = tuple(name for name in HardwareTable.model_fields if name not in ("display_name", "match", "aliases"))
HARDWARE_FILE = TypeAdapter(dict[str, HardwareTable])


@dataclass(frozen=True)
class HardwareEntry:
    key: str
    display_name: str
    match: str
    figures: dict[str, SourcedValue] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    user_supplied: bool = False  # from a user's --hardware file: such entries win over shipped ones

    def get(self, name: str) -> float | None:
        figure = self.figures.get(name)
        return figure.value if figure else None

    def require(self, name: str, fix: str) -> float:
        value = self.get(name)
        if value is None:
            raise UserError(f"hardware {self.key} {name}", self._missing(name), self._fix_for_missing(name, fix))
        return value

    def _missing(self, name: str) -> str:
        if name == "reserved_usd_per_hour":
            return f"is not in the catalog (no sourced term-contract rate for {self.display_name})"
        if name == "rental_usd_per_hour":
            return f"is not in the catalog (no sourced on-demand rate for {self.display_name})"
        return "is not in the catalog"

    def _fix_for_missing(self, name: str, fix: str) -> str:
        """The caller's fix, unless it points at a preset that needs a figure this entry also lacks."""
        rate_example = f"--set rate=rates --set 'rates={{{self.key}={EXAMPLE_RATE_USD_PER_HOUR:g}}}'"
        if name in ("rental_usd_per_hour", "reserved_usd_per_hour"):
            other = [
                preset
                for preset, figure in (
                    ("on-demand-rental", "rental_usd_per_hour"),
                    ("reserved-rental", "reserved_usd_per_hour"),
                    ("owned", "price_usd"),
                )
                if figure != name and self.get(figure) is not None
            ]
            instead = f"use --preset {' or --preset '.join(other)}, or price" if other else "price"
            return f"{instead} your own rate per GPU-hour: {rate_example}"
        if name == "price_usd" and self.get("rental_usd_per_hour") is None:
            if self.get("reserved_usd_per_hour") is not None:
                return "use a rental preset (--preset reserved-rental) or give price_usd in --hardware"
            return (
                f"rent it at your own rate (--preset on-demand-rental {rate_example}) or give price_usd in --hardware"
            )
        return fix

    @property
    def tdp_w(self) -> float:
        return self.require("tdp_w", "give tdp_w in a --hardware file")

    def names(self) -> set[str]:
        """The normalised key and aliases a user may type for this entry."""
        return {normalise(self.key)} | {normalise(alias) for alias in self.aliases}

    def words(self) -> set[str]:
        """Every word of the key and aliases: what a partial name such as 'A100' is matched against."""
        return {word for text in (self.key, *self.aliases) for word in normalise(text).split()}


def normalise(name: str) -> str:
    """Lower case, anything but letters and digits as spaces, vendor words dropped: 'NVIDIA H100-SXM' -> 'h100 sxm'."""
    words = re.sub(r"[^0-9a-z]+", " ", name.lower()).split()
    return " ".join(word for word in words if word not in VENDOR_WORDS)


def load_catalog(extra: Path | None = None) -> list[HardwareEntry]:
    """The shipped catalog, with a user's --hardware file's entries first (they win)."""
    shipped = _parse(resources.files("tokencost").joinpath("data/hardware.toml").read_text(), "hardware.toml")
    if extra is None:
        return shipped
    try:
        text = Path(extra).read_text()
    except FileNotFoundError:
        raise UserError("--hardware", f"{extra} does not exist", "give the path of a hardware TOML file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(
            "--hardware",
            f"{extra} cannot be read as text ({getattr(e, 'strerror', None) or e})",
            "give the path of a hardware TOML file",
        ) from None
    return _parse(text, str(extra), user_supplied=True) + shipped


def _parse(text: str, where: str, user_supplied: bool = False) -> list[HardwareEntry]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(where, f"is not valid TOML ({e})", "fix the TOML") from None
    try:
        tables = HARDWARE_FILE.validate_python(data)
    except ValidationError as e:
        raise as_user_error(e, HardwareTable, where) from None
    return [_entry(key, table, where, user_supplied) for key, table in tables.items()]


def _entry(key: str, table: HardwareTable, where: str, user_supplied: bool) -> HardwareEntry:
    figures = {name: figure for name in NUMERIC_FIELDS if (figure := getattr(table, name)) is not None}
    if user_supplied:  # a bare number says nothing of its source: the file it came from is the source
        figures = {
            name: figure if figure.source else replace(figure, source=f"user-supplied in {where}")
            for name, figure in figures.items()
        }
    return HardwareEntry(
        key,
        table.display_name or key,
        re.escape(key) if table.match is None else table.match,
        figures,
        tuple(table.aliases),
        user_supplied,
    )


def find_hardware(name: str, catalog: list[HardwareEntry]) -> HardwareEntry:
    """The catalog entry for a catalog key, an alias or a detected name such as 'NVIDIA H100 80GB HBM3'.

    Tried in order, the first step with any match deciding: the exact key; the key or an alias, ignoring case,
    punctuation and vendor words ('H100 SXM', 'nvidia h200'); the entries' `match` patterns against the name
    nvidia-smi reports; every word of the name among an entry's words ('A100' -> the four A100 entries). A user's
    --hardware entries win over shipped ones; several shipped entries left is an error listing them.
    """
    if not isinstance(name, str) or not name.strip():
        raise UserError(
            "hardware",
            f"{name!r} is {'empty' if isinstance(name, str) else 'not a name'}",
            "give a catalog key (e.g. h100-sxm) or the GPU name nvidia-smi reports",
        )
    for entry in catalog:
        if entry.key == name:
            return entry
    wanted = normalise(name)
    steps = (
        lambda entry: wanted in entry.names(),
        lambda entry: re.search(entry.match, name, re.IGNORECASE) is not None,
        lambda entry: bool(wanted) and set(wanted.split()) <= entry.words(),
    )
    for matches in steps:
        found = _distinct([entry for entry in catalog if matches(entry)])
        if len(found) == 1:
            return found[0]
        if found:
            keys = [entry.key for entry in found]
            raise UserError(
                "hardware",
                f"{name!r} matches several catalog entries ({', '.join(keys)})",
                f"give one of them, e.g. --gpu {keys[0]}",
            )
    known = ", ".join(dict.fromkeys(entry.key for entry in catalog))
    raise UserError(
        "hardware",
        f"{name!r} is not in the hardware catalog",
        f"supply its figures with --hardware FILE (TOML like tokencost/data/hardware.toml) or use one of: {known}",
    )


def _distinct(entries: list[HardwareEntry]) -> list[HardwareEntry]:
    """One entry per key, the first (a user's) kept; only the user's entries if any of them is there."""
    if any(entry.user_supplied for entry in entries):
        entries = [entry for entry in entries if entry.user_supplied]
    seen: dict[str, HardwareEntry] = {}
    for entry in entries:
        seen.setdefault(entry.key, entry)
    return list(seen.values())
