"""How many examples a property test tries: the Hypothesis profile decides (tests/conftest.py loads it).

A test that needs more (or fewer) examples than the profile's default says how many it tries in the full run,
`@settings(max_examples=examples(300))`; under another profile that count scales with the profile's default, so
the quick `dev` profile tries a tenth of it and the full `ci` profile exactly it.
"""

from hypothesis import settings

CI = "ci"  # the full run's profile: the counts the tests name


def examples(full: int) -> int:
    """`full` examples under the ci profile; under the profile loaded now, `full` scaled by its default count."""
    return max(1, round(full * settings.default.max_examples / settings.get_profile(CI).max_examples))
