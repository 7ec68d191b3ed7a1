"""Schema validation (pydantic) with errors a user can act on: one line, the field, the value, what is allowed."""

from typing import Annotated, TypeVar, get_args

from pydantic import BaseModel, Field, ValidationError

from bench.errors import UserError
from bench.secrets import redact

PositiveInt = Annotated[int, Field(strict=True, gt=0)]
Model = TypeVar("Model", bound=BaseModel)


def parse(model: type[Model], data: object, where: str) -> Model:
    """`data` validated as `model`; the first problem becomes a UserError naming `where` and the field."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise as_user_error(e, model, where) from None
    except UserError as e:  # a check across fields names its setting itself; `where` says in what
        raise e.with_field(f"{where} {e.field}".strip()) from None


def as_user_error(error: ValidationError, model: type[BaseModel], where: str) -> UserError:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    field = f"{where} {location}".strip() if location else where
    if first["type"] == "extra_forbidden":
        return UserError(field, "is not a setting", f"use one of: {', '.join(_allowed(model, first['loc'][:-1]))}")
    if first["type"] == "missing":
        return UserError(field, "is missing", "give it a value")
    message = first["msg"].removeprefix("Value error, ")  # a validator's own words need no label
    return UserError(field, f"is {_short(first.get('input'))}", message[0].lower() + message[1:])


def _allowed(model: type[BaseModel], path: tuple[int | str, ...]) -> list[str]:
    """The settings of the model at `path`, stepping through lists and tables of models (an index or a key)."""
    for part in path:
        if part not in model.model_fields:
            continue  # a list's index or a table's key: the model stays the one its values have
        inner = _model_in(model.model_fields[part].annotation)
        if inner is None:
            break
        model = inner
    return sorted(model.model_fields)


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The model a field holds: itself, or the model of its list, table or optional value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((found for arg in get_args(annotation) if (found := _model_in(arg))), None)


def _short(value) -> str:
    """The value as a user wrote it, secrets masked before it is cut (a cut one would no longer match)."""
    text = redact(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."
