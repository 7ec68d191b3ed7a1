"""Keep secrets out of records, run files and reports."""

import os
import re

REDACTED = "[redacted]"
SECRET_NAME = re.compile(r"(TOKEN|KEY|SECRET|PASSWORD|CREDENTIALS?)$", re.IGNORECASE)
URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]+:[^/@\s]+@", re.IGNORECASE)
URL_KEY_PARAM = re.compile(r"(?P<name>[?&](?:api[_-]?key|key|token|access[_-]?token|secret|sig|signature)=)[^&\s\"']+",
                           re.IGNORECASE)


def secret_values(environ=None) -> list[str]:
    """Values of environment variables whose names say they hold a secret (HF_TOKEN, OPENAI_API_KEY, ...)."""
    environ = os.environ if environ is None else environ
    return sorted({v for k, v in environ.items() if SECRET_NAME.search(k) and len(v) >= 6}, key=len, reverse=True)


def redact(text: str, environ=None) -> str:
    for value in secret_values(environ):
        text = text.replace(value, REDACTED)
    text = URL_USERINFO.sub(lambda m: m["scheme"] + REDACTED + "@", text)
    return URL_KEY_PARAM.sub(lambda m: m["name"] + REDACTED, text)
