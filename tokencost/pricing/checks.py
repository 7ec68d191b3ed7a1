"""A priced point's validity checks in one text value: "ok", or "failed: " and the failed checks' names.

The priced tables carry it in their `checks` column, and the published CSV and JSON files with them. This
module alone writes and reads that text; everything else asks it for the names.
"""

OK = "ok"
FAILED = "failed: "
SEPARATOR = ", "


def checks_text(failed: list[str]) -> str:
    """'ok', or the failed checks' names after 'failed: ', each once, in the order given."""
    names = list(dict.fromkeys(failed))
    return FAILED + SEPARATOR.join(names) if names else OK


def failed_names(value: object) -> list[str]:
    """The failed checks' names in a `checks` value; none for 'ok' or a missing value (NaN, None)."""
    if not isinstance(value, str) or not value.startswith(FAILED):
        return []
    return value.removeprefix(FAILED).split(SEPARATOR)


def passed(value: object) -> bool:
    """Whether a `checks` value says every check passed (a missing value does not)."""
    return value == OK


def with_failed(value: str, name: str) -> str:
    """A `checks` value with one more failed check."""
    return checks_text([*failed_names(value), name])
