"""A suite: which models, which batch sizes, which workload and engine settings."""

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from bench.engines.vllm_offline import EngineSettings
from bench.errors import UserError
from bench.workload import Workload


@dataclass(frozen=True)
class Suite:
    """The embedded defaults are the CPU demo: two tiny models, a short batch sweep."""

    models: tuple[str, ...] = ("tiny-dense", "tiny-moe")
    batch_sizes: tuple[int, ...] = (1, 4, 16, 64)
    workload: Workload = field(default_factory=Workload)
    engine: EngineSettings = field(default_factory=EngineSettings)
    warmup: bool = True
    prefill_probe: bool = True  # time a prefill-only pass per point, to split input and output cost
    min_window_s: float = 30.0  # shorter measurement windows are flagged in the record's validity checks

    def __post_init__(self):
        if not self.models:
            raise UserError("models", "is empty", "name at least one model card")
        if not self.batch_sizes or any(b < 1 for b in self.batch_sizes):
            raise UserError("batch_sizes", f"is {list(self.batch_sizes)}", "give positive integers, e.g. 1,4,16")

    def to_record(self) -> dict:
        return {
            "models": list(self.models),
            "batch_sizes": list(self.batch_sizes),
            "workload": self.workload.to_record(),
            "engine": self.engine.__dict__,
            "warmup": self.warmup,
            "prefill_probe": self.prefill_probe,
            "min_window_s": self.min_window_s,
        }


def load_suite(path: Path | None = None) -> Suite:
    if path is None:
        return Suite()
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError("--suite", f"{path} does not exist", "give the path of a suite TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise UserError("--suite", f"{path} is not valid TOML ({e})", "fix the TOML") from None
    return suite_from_dict(data, str(path))


def suite_from_dict(data: dict, where: str = "suite") -> Suite:
    known = {"models", "batch_sizes", "workload", "engine", "warmup", "prefill_probe", "min_window_s"}
    for key in data:
        if key not in known:
            raise UserError(f"{where} {key}", "is not a suite setting", f"use one of: {', '.join(sorted(known))}")
    defaults = Suite()
    return Suite(
        models=tuple(data.get("models", defaults.models)),
        batch_sizes=tuple(data.get("batch_sizes", defaults.batch_sizes)),
        workload=_section(Workload, data.get("workload", {}), f"{where} [workload]"),
        engine=_section(EngineSettings, data.get("engine", {}), f"{where} [engine]"),
        warmup=bool(data.get("warmup", True)),
        prefill_probe=bool(data.get("prefill_probe", True)),
        min_window_s=float(data.get("min_window_s", defaults.min_window_s)),
    )


def _section(cls, values: dict, where: str):
    allowed = {f.name for f in fields(cls)}
    for key in values:
        if key not in allowed:
            raise UserError(f"{where} {key}", "is not a setting", f"use one of: {', '.join(sorted(allowed))}")
    return cls(**values)


def with_overrides(suite: Suite, models=None, batch_sizes=None, **workload) -> Suite:
    """The suite with command-line overrides applied (None leaves a value as it is)."""
    changes = {}
    if models:
        changes["models"] = tuple(models)
    if batch_sizes:
        changes["batch_sizes"] = tuple(batch_sizes)
    workload = {k: v for k, v in workload.items() if v is not None}
    if workload:
        changes["workload"] = replace(suite.workload, **workload)
    return replace(suite, **changes)
