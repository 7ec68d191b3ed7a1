"""Keep secrets out of records, run files, logs and reports."""

import json
import os
import re

REDACTED = "[redacted]"
SECRET_NAME = re.compile(r"(TOKEN|KEY|SECRET|PASSWORD|CREDENTIALS?)$", re.IGNORECASE)
# Everything between "scheme://" and the last "@" of the authority: user, password (which may hold "@" or ":"),
# or a bare token used as a user name; never across a quote, so the JSON around a URL stays whole.
URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s?#\"'\\]+@", re.IGNORECASE)
URL_KEY_PARAM = re.compile(
    r"(?P<name>[?&](?:api[_-]?key|key|token|access[_-]?token|secret|sig|signature)=)[^&\s\"']+", re.IGNORECASE
)
MIN_KNOWN_SECRET = 4  # shorter values cannot be told from ordinary text (and are no secret)

_known: set[str] = set()  # values this process knows are secrets (the endpoint's API key), whatever their name


def remember(value: str | None) -> None:
    """Mask `value` in everything `redact` sees from now on (an API key read from a variable of any name)."""
    if value and len(value) >= MIN_KNOWN_SECRET:
        _known.add(value)


def forget_all() -> None:
    """For tests: drop the values `remember` was given."""
    _known.clear()


def secret_values(environ=None) -> list[str]:
    """Values of environment variables whose names say they hold a secret (HF_TOKEN, OPENAI_API_KEY, ...),
    and the values given to `remember`; longest first, so a secret holding another is masked whole."""
    environ = os.environ if environ is None else environ
    named = {v for k, v in environ.items() if SECRET_NAME.search(k) and len(v) >= 6}
    return sorted(named | _known, key=len, reverse=True)


def redact(text: str, environ=None) -> str:
    for value in secret_values(environ):
        # Text written as JSON holds a secret with its quotes, backslashes (and non-ASCII characters) escaped.
        for form in dict.fromkeys((value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1])):
            text = text.replace(form, REDACTED)
    text = URL_USERINFO.sub(lambda m: m["scheme"] + REDACTED + "@", text)
    return URL_KEY_PARAM.sub(lambda m: m["name"] + REDACTED, text)
