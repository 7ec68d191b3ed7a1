"""A priced point's validity checks in one text value: "ok", or "failed: " and the failed checks' names.

The priced tables carry it in their `checks` column, and the published CSV and JSON files with them. This
module alone writes and reads that text; everything else asks it for the names.
"""

OK = "ok"
FAILED = "failed: "
SEPARATOR = ", "
# An imported point whose figures cannot be true (tokencost.pricing.plausibility) fails one of these, and is never
# on a Pareto front.
PER_USER_ABOVE_SYSTEM = "per_user_above_system"
TPOT_BELOW_BANDWIDTH_FLOOR = "tpot_below_bandwidth_floor"
ZERO_OR_NEGATIVE_TIME = "zero_or_negative_time"
IMPLAUSIBLE = (PER_USER_ABOVE_SYSTEM, TPOT_BELOW_BANDWIDTH_FLOOR, ZERO_OR_NEGATIVE_TIME)


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


def implausible(value: object) -> bool:
    """Whether a `checks` value names a check that says the point cannot be true (IMPLAUSIBLE)."""
    return any(name in IMPLAUSIBLE for name in failed_names(value))
