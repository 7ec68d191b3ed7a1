"""Model cards: a folder under models/ with config.json and card.toml; or such a folder elsewhere; or a Hugging
Face model's config.json (bench.inputs.hub)."""

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import UserError
from bench.inputs import checkpoints as checkpoint_tables
from bench.inputs.checkpoints import Checkpoint
from bench.inputs.json_files import read_user_json
from bench.inputs.params import ParamCount, config_problem, count_params
from bench.inputs.text_files import read_user_text
from bench.inputs.workload import FIRST_ORDINARY_TOKEN_ID

KINDS = ("dense", "moe")
WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt")
MODELS_DIR_VARIABLE = "TOKENCOST_MODELS_DIR"
CONFIG_FIX = "give the card folder the model's Hugging Face config.json (a JSON object, UTF-8)"


def default_models_dir() -> Path:
    """models/ beside the packages, unless TOKENCOST_MODELS_DIR says otherwise: then a folder holding cards, or
    refused (a typo there would otherwise list no models and run none, without a word)."""
    override = os.environ.get(MODELS_DIR_VARIABLE)
    if not override:
        return Path(__file__).resolve().parents[2] / "models"
    fix = f"set {MODELS_DIR_VARIABLE} to a folder of model cards (folders with a config.json), or unset it"
    folder = Path(override)
    if not folder.is_dir():
        problem = "does not exist" if not folder.exists() else "is not a folder"
        raise UserError(MODELS_DIR_VARIABLE, f"{override} {problem}", fix)
    if not _card_folders(folder):
        raise UserError(MODELS_DIR_VARIABLE, f"{override} holds no model card", fix)
    return folder


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
    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)  # by weight format (bench.inputs.checkpoints)

    @property
    def file_name(self) -> str:
        """The name, fit for a file name: a folder path's or a Hugging Face id's slashes made dashes."""
        return re.sub(r"[^\w.-]+", "-", self.name).strip("-")

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


def is_path(name_or_path: str) -> bool:
    """Whether --models/--model names a folder (or a Hugging Face id) rather than a card of the models folder:
    only when it says so (a path separator, or a leading '.'), so a folder of the current directory never
    shadows a card."""
    separators = {s for s in (os.sep, os.altsep, "/") if s}
    return name_or_path.startswith(".") or any(s in name_or_path for s in separators)


def load_card(name_or_path: str, models_dir: Path | None = None, download: bool = False) -> ModelCard:
    """The card a model is named by, the same on every command: a bare name is a card of the models folder, a
    path (see is_path) a card folder, and `org/name` that is no folder here a Hugging Face id, its config.json
    read from the local Hugging Face cache (fetched into it first where `download`: bench.inputs.hub).

    The card's name is what loads it again in any later command (a resumed run, a report): the folder's name
    for a card of the models folder, the folder's absolute path for one elsewhere, the id for a Hugging Face
    model. Refused in one line naming CARD/config.json FIELD when its config cannot describe a model."""
    models_dir = models_dir or default_models_dir()
    name, path, hf_id = _located(name_or_path, models_dir, download)
    config = _read_config(path, name)
    meta = _read_card_toml(path)
    try:
        params = count_params(config)
    except (TypeError, ValueError, KeyError, ZeroDivisionError, OverflowError) as e:  # one config_problem misses
        raise UserError(
            f"{name}/config.json", f"cannot be counted ({type(e).__name__}: {e})", "fix the config"
        ) from None
    kind = meta.get("kind", "moe" if params.is_moe else "dense")
    if kind not in KINDS:
        raise UserError(f"{name}/card.toml kind", f"{kind!r} is not a kind", "use 'dense' or 'moe'")
    return ModelCard(
        name=name,
        path=path,
        display_name=meta.get("display_name", hf_id or path.name),
        kind=kind,
        config=config,
        params=params,
        pairs_with=meta.get("pairs_with"),
        hf_id=meta.get("hf_id", hf_id),
        checkpoints=checkpoint_tables.parse(meta, name),
    )


def _located(name_or_path: str, models_dir: Path, download: bool) -> tuple[str, Path, str | None]:
    """The card's name, its folder, and its Hugging Face id where it was named by one."""
    from bench.inputs import hub

    path = Path(name_or_path) if is_path(name_or_path) else models_dir / name_or_path
    if name_or_path and path.is_dir():
        if not is_path(name_or_path) or path.resolve() == (models_dir / path.name).resolve():
            return path.name, path, None
        return str(path.resolve()), path, None
    if name_or_path and is_path(name_or_path) and not path.exists() and hub.is_hub_id(name_or_path):
        return name_or_path, hub.config_folder(name_or_path, download), name_or_path
    known = ", ".join(list_card_names(models_dir)) or "none"
    if name_or_path and is_path(name_or_path):
        raise UserError(
            "model",
            f"{name_or_path} is not a card folder",
            f"give a folder holding config.json, a Hugging Face id (org/name), or a card name: {known}",
        )
    here = f", or ./{name_or_path} for the folder here" if name_or_path and Path(name_or_path).is_dir() else ""
    raise UserError("model", f"no model card named {name_or_path!r}", f"use one of: {known}{here}")


def named_card(name_or_path: str, field: str, models_dir: Path | None = None) -> ModelCard:
    """The card a user named with `field` (--model, --models): as load_card gives it, a Hugging Face id's
    config.json fetched when the cache lacks it; a model that cannot be found is refused under `field`."""
    try:
        return load_card(name_or_path, models_dir, download=True)
    except UserError as e:
        raise (e.with_field(field) if e.field == "model" else e) from None


def list_card_names(models_dir: Path | None = None) -> list[str]:
    """Every card folder's name, broken ones too (a config.json that is a folder or a dangling link), so
    `tokencost models` lists those as BROKEN rather than leaving them out."""
    models_dir = models_dir or default_models_dir()
    if not models_dir.is_dir():
        return []
    return sorted(p.name for p in _card_folders(models_dir))


def _card_folders(models_dir: Path) -> list[Path]:
    try:
        children = list(models_dir.iterdir())
    except OSError:
        return []
    config = "config.json"
    return [p for p in children if (p / config).exists() or (p / config).is_symlink()]


def _read_config(path: Path, label: str) -> dict:
    """The card folder's config.json, checked; `label` names the card in a refusal."""
    field = f"{label}/config.json"
    file = path / "config.json"
    if not file.exists():
        dangling = " (a link to a file that does not exist)" if file.is_symlink() else ""
        raise UserError(field, f"missing{dangling}", "add a Hugging Face config.json to the card folder")
    if file.is_dir():
        raise UserError(field, "is a folder, not a file", CONFIG_FIX)
    config = read_user_json(file, field, "the card's config.json", CONFIG_FIX)
    if not isinstance(config, dict):
        raise UserError(field, "is not a JSON object", "use a Hugging Face config.json")
    # Prompts draw ids from FIRST_ORDINARY_TOKEN_ID up, so the vocabulary must hold at least one more.
    problem = config_problem(config, min_vocab=FIRST_ORDINARY_TOKEN_ID + 1)
    if problem:
        key, what, fix = problem
        raise UserError(f"{field} {key}", what, fix)
    return config


def _read_card_toml(path: Path) -> dict:
    card = path / "card.toml"
    if not card.exists() and not card.is_symlink():
        return {}
    text = read_user_text(card, f"{path.name}/card.toml", "the card's card.toml", "save card.toml as UTF-8 TOML")
    try:
        meta = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as e:
        raise UserError(f"{path.name}/card.toml", f"not valid TOML ({e})", "fix the TOML") from None
    for key in ("display_name", "kind", "pairs_with", "hf_id"):
        if key in meta and not isinstance(meta[key], str):
            raise UserError(f"{path.name}/card.toml {key}", f"is {meta[key]!r}", "give it as a string")
    return meta
