"""A model named by its Hugging Face id (`org/name`): its config.json, from the local Hugging Face cache first.

Only config.json is fetched (never weights), and only when a command is told to fetch: once it is in the cache,
every command finds it there, offline too (HF_HUB_OFFLINE=1).
"""

import logging
from pathlib import Path

from bench.errors import UserError

CONFIG = "config.json"
OFFLINE_FIX = "run the command once online to fetch its config.json, or give a local card folder"


def is_hub_id(text: str) -> bool:
    """Whether `text` is spelled as a Hugging Face model id, `org/name` (a folder path is checked first)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if text.count("/") != 1 or text.startswith("."):
        return False
    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return True


def config_folder(repo_id: str, download: bool) -> Path:
    """The folder of the cache's copy of `repo_id`'s config.json; fetched into the cache first when it is not
    there and `download` is true. Refused in one line (field `model`) when it cannot be had."""
    from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, CONFIG)
    if isinstance(cached, str):  # a path; else None (never fetched) or a marker that the Hub has no such file
        return Path(cached).parent
    if not download:
        raise UserError(
            "model",
            f"{repo_id} is neither a card folder nor a Hugging Face model in the local cache",
            f"name it once with `tokencost project --model {repo_id}` online to fetch its {CONFIG}, "
            "or give a local card folder",
        )
    if constants.is_offline_mode():
        raise UserError(
            "model",
            f"{repo_id} is no folder here and not in the local Hugging Face cache (HF_HUB_OFFLINE is set)",
            OFFLINE_FIX,
        )
    hub_log = logging.getLogger("huggingface_hub")
    level = hub_log.level
    hub_log.setLevel(logging.ERROR)  # its retries, one warning each, would bury the one line that says what failed
    try:
        return Path(hf_hub_download(repo_id, CONFIG)).parent
    except Exception as e:  # noqa: BLE001 - each of the Hub's failures is told apart below
        raise _refusal(repo_id, e) from None
    finally:
        hub_log.setLevel(level)


def _refusal(repo_id: str, error: Exception) -> UserError:
    """What a failed fetch means to the user, in one line."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    if isinstance(error, (LocalEntryNotFoundError, OfflineModeIsEnabled, ConnectionError)):
        problem = f"{repo_id} is no folder here, not in the local Hugging Face cache, and the Hub cannot be reached"
        return UserError("model", problem, OFFLINE_FIX)
    if isinstance(error, GatedRepoError):
        return UserError(
            "model", f"{repo_id} is gated on the Hugging Face Hub", "accept its terms there and log in (hf auth login)"
        )
    if isinstance(error, RepositoryNotFoundError):
        return UserError(
            "model",
            f"{repo_id} is neither a card folder nor a model on the Hugging Face Hub (or it is private)",
            "check the id (org/name), log in for a private model (hf auth login), or give a local card folder",
        )
    if isinstance(error, EntryNotFoundError):
        return UserError("model", f"{repo_id} has no {CONFIG} on the Hugging Face Hub", "give a model repository")
    if isinstance(error, (HfHubHTTPError, OSError)):
        return UserError(
            "model",
            f"{repo_id}'s {CONFIG} could not be fetched ({type(error).__name__}: {error})",
            "try again, or give a local card folder",
        )
    raise error
