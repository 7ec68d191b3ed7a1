"""Command-line flags declared on the suite's own fields, so that a setting's flag, bounds, default and help are one
thing (as AIPerf's `CLIParameter` does): the `run` command's options are built from them (tokencost.cli.args), and
an out-of-range value is named by the flag the user typed.

    batch_sizes: Annotated[tuple[int, ...], Field(min_length=1), Flag("--batch-sizes", "batch sizes, e.g. 1,4")]
"""

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo


@dataclass(frozen=True)
class Flag:
    """A setting's flag. `help` says what it sets; its bounds and default are added from the field itself.

    Attributes:
        name: the flag as typed, e.g. `--batch-sizes`.
        help: what the setting does, without its bounds or default.
        metavar: how `--help` shows the value (default: argparse's).
        group: the `--help` section it is listed under (default: the command's own options).
    """

    name: str
    help: str
    metavar: str | None = None
    group: str | None = None

    @property
    def dest(self) -> str:
        """The attribute argparse stores the value in."""
        return self.name.removeprefix("--").replace("-", "_")


@dataclass(frozen=True)
class Option:
    """A flagged setting of a model, with what its field says about the values it takes.

    Attributes:
        path: the setting, dotted from the model, e.g. `workload.isl`.
        flag: its flag.
        kind: the type of one value (of each value, where `many`): int, float or str.
        many: whether the setting is a list of values (given comma-separated).
        choices: the values allowed, where the field lists them.
        minimum: the lowest value allowed, with `inclusive` telling whether it is allowed itself.
        maximum: the highest value allowed (each value's, where `many`).
        default: the setting's default (None: none).
    """

    path: str
    flag: Flag
    kind: type
    many: bool
    choices: tuple[str, ...] | None
    minimum: float | None
    inclusive: bool
    maximum: float | None
    default: Any


def options(model: type[BaseModel], prefix: str = "") -> Iterator[Option]:
    """The flagged settings of `model` and of the models its fields hold, in the order they are declared."""
    for name, field in model.model_fields.items():
        path = prefix + name
        flag = next((m for m in field.metadata if isinstance(m, Flag)), None)
        if flag is not None:
            yield _option(path, flag, field)
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from options(field.annotation, path + ".")


def _option(path: str, flag: Flag, field: FieldInfo) -> Option:
    constraints = list(field.metadata)
    value_type = _unwrap(field.annotation, constraints)
    many = typing.get_origin(value_type) is tuple
    if many:  # the bounds that count are each value's, not the tuple's
        constraints = []
        value_type = _unwrap(typing.get_args(value_type)[0], constraints)
    choices = typing.get_args(value_type) if typing.get_origin(value_type) is Literal else None
    kind = str if choices else value_type
    if kind not in (int, float, str):
        raise TypeError(f"{path}: a flag takes int, float or str values, or a tuple of them, not {value_type}")
    # pydantic keeps bounds as annotated_types' Ge, Gt and Le, one attribute each.
    ge, gt, le = (next((getattr(c, b) for c in constraints if hasattr(c, b)), None) for b in ("ge", "gt", "le"))
    return Option(
        path=path,
        flag=flag,
        kind=kind,
        many=many,
        choices=choices,
        minimum=gt if ge is None else ge,
        inclusive=ge is not None,
        maximum=le,
        default=field.default,
    )


def _unwrap(annotation: Any, constraints: list[Any]) -> Any:
    """The type a field's values have, without None and Annotated; the constraints met on the way are added
    to `constraints`."""
    while True:
        if typing.get_origin(annotation) is Annotated:
            annotation, *metadata = typing.get_args(annotation)
            for item in metadata:
                constraints.extend(item.metadata if isinstance(item, FieldInfo) else [item])
        elif typing.get_origin(annotation) in (Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation
