"""Model cards: a folder under models/ with config.json and card.toml."""

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bench.errors import UserError
from bench.inputs.params import ParamCount, count_params

KINDS = ("dense", "moe")
WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt")


def default_models_dir() -> Path:
    """models/ beside the packages, unless TOKENCOST_MODELS_DIR says otherwise."""
    override = os.environ.get("TOKENCOST_MODELS_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "models"


@dataclass(frozen=True)
class ModelCard:
    name: str
    path: Path
    display_name: str
    kind: str
    config: dict
    params: ParamCount
    pairs_with: str | None = None
    hf_id: str | None = None

    @property
    def architecture(self) -> str:
        return (self.config.get("architectures") or ["unknown"])[0]

    @property
    def vocab_size(self) -> int:
        return self.config["vocab_size"]

    @property
    def max_context(self) -> int:
        return self.config.get("max_position_embeddings", 0)

    @property
    def has_weights(self) -> bool:
        return any(any(self.path.glob(p)) for p in WEIGHT_FILES)

    @property
    def has_tokenizer(self) -> bool:
        return (self.path / "tokenizer.json").exists()

    def summary(self) -> dict:
        """The card as it goes into a record."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "kind": self.kind,
            "architecture": self.architecture,
            "pairs_with": self.pairs_with,
            "hf_id": self.hf_id,
            "total_params": self.params.total,
            "active_params": self.params.active,
            "weights": "checkpoint" if self.has_weights else "dummy",
        }


def load_card(name_or_path: str, models_dir: Path | None = None) -> ModelCard:
    models_dir = models_dir or default_models_dir()
    path = Path(name_or_path)
    if not path.is_dir():
        path = models_dir / name_or_path
    if not path.is_dir():
        known = ", ".join(list_card_names(models_dir)) or "none"
        raise UserError("model", f"no model card named {name_or_path!r}", f"use one of: {known}")
    config = _read_config(path)
    meta = _read_card_toml(path)
    kind = meta.get("kind", "moe" if count_params(config).is_moe else "dense")
    if kind not in KINDS:
        raise UserError(f"{path.name}/card.toml kind", f"{kind!r} is not a kind", "use 'dense' or 'moe'")
    return ModelCard(
        name=path.name,
        path=path,
        display_name=meta.get("display_name", path.name),
        kind=kind,
        config=config,
        params=count_params(config),
        pairs_with=meta.get("pairs_with"),
        hf_id=meta.get("hf_id"),
    )


def list_card_names(models_dir: Path | None = None) -> list[str]:
    models_dir = models_dir or default_models_dir()
    if not models_dir.is_dir():
        return []
    return sorted(p.name for p in models_dir.iterdir() if (p / "config.json").exists())


def _read_config(path: Path) -> dict:
    field = f"{path.name}/config.json"
    try:
        config = json.loads((path / "config.json").read_text())
    except FileNotFoundError:
        raise UserError(field, "missing", "add a Hugging Face config.json to the card folder") from None
    except json.JSONDecodeError as e:
        raise UserError(field, f"not valid JSON ({e.msg} at line {e.lineno})", "fix the JSON") from None
    if not isinstance(config, dict):
        raise UserError(field, "is not a JSON object", "use a Hugging Face config.json")
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size", "intermediate_size"):
        value = config.get(key)
        if not isinstance(value, int) or value <= 0:
            raise UserError(f"{field} {key}", f"is {value!r}", "give a positive integer")
    return config


def _read_card_toml(path: Path) -> dict:
    card = path / "card.toml"
    if not card.exists():
        return {}
    try:
        return tomllib.loads(card.read_text())
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path.name}/card.toml", f"not valid TOML ({e})", "fix the TOML") from None
