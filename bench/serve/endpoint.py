"""An OpenAI-compatible server that is already running (vLLM, SGLang, TGI, TensorRT-LLM): measured, never started."""

import ipaddress
import json
import re
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import psutil

from bench.engines.base import SAMPLING
from bench.errors import UserError
from bench.secrets import redact, remember

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
URL_EXAMPLE = "give e.g. http://127.0.0.1:8000 or https://host.example/v1"


def check_endpoint(url: str | None, api_key_env: str | None, environ) -> None:
    """Refuse, in one line and before anything starts, an endpoint URL that cannot work or holds credentials,
    and an API key variable that is not set; remember the key and any URL password, so `redact` masks them.

    No message repeats the URL: whatever it holds (a password, a token as a user name) stays out of the
    console. Credentials in the URL are refused, not sent as basic auth: OpenAI-compatible servers take a
    bearer key, which `serve.api_key_env` names.
    """
    if url is None:
        return
    if not url.isprintable() or any(c.isspace() for c in url):  # urlsplit drops some; http.client would not
        raise UserError("--endpoint", "holds a space, line break or control character", URL_EXAMPLE)
    try:
        parts = urlsplit(url)
        password, port = parts.password, parts.port  # .port raises on a port that is not a number in range
    except ValueError:  # "http://[::1/v1", "http://host:x/": the message may repeat the URL, so it is not shown
        raise UserError(
            "--endpoint",
            "is not a valid URL (an IPv6 address's [brackets] not closed, or a port "
            "that is not a number from 0 to 65535)",
            URL_EXAMPLE,
        ) from None
    remember(password)
    if parts.scheme not in ("http", "https"):
        raise UserError("--endpoint", "is not an http:// or https:// URL", URL_EXAMPLE)
    if "@" in parts.netloc:
        remember(parts.username)  # a bare user name may be a token
        raise UserError(
            "--endpoint",
            "holds credentials (user:password@), which are not sent",
            "drop them from the URL; put the API key in an environment variable and name it with "
            "serve.api_key_env in the suite (sent as 'Authorization: Bearer')",
        )
    if not parts.hostname:
        raise UserError("--endpoint", "has no host", URL_EXAMPLE)
    try:
        parts.hostname.encode("idna")
    except UnicodeError:
        raise UserError(
            "--endpoint", "has a host name that is not valid (an empty label, or one over 63 characters)", URL_EXAMPLE
        ) from None
    if port == 0:
        raise UserError("--endpoint", "has port 0, which no server listens on", URL_EXAMPLE)
    if parts.query or parts.fragment:
        raise UserError(
            "--endpoint",
            "has a query or fragment (?... or #...), which is not sent",
            "give the server's base URL; put an API key in the variable serve.api_key_env names",
        )
    if api_key_env is None:
        return
    if not ENV_NAME.fullmatch(api_key_env):  # perhaps the key itself: never repeated
        raise UserError(
            "serve.api_key_env",
            "is not the name of an environment variable",
            "give the variable's name (e.g. TOKENCOST_KEY), not the key itself",
        )
    key = environ.get(api_key_env)
    if not key:
        raise UserError("serve.api_key_env", f"{api_key_env} is not set", "export it, or leave api_key_env out")
    remember(key)
    if not (key.isascii() and key.isprintable()):  # an HTTP header would refuse it, repeating it in the error
        raise UserError(
            "serve.api_key_env",
            f"{api_key_env} holds a line break, control or non-ASCII character",
            "export the key alone (e.g. without a trailing \\r from a Windows file)",
        )


class ExistingEndpoint:
    """Same interface as `VllmServer`: a context manager with `base_url`, `model`, `api_key`, `exited`
    and `describe()`."""

    exited = False  # its process is not ours to watch

    def __init__(self, url: str, model: str | None = None, api_key: str | None = None):
        self.base_url = url.rstrip("/").removesuffix("/v1")
        self.model = model
        self.api_key = api_key

    def __enter__(self):
        if self.model is None:
            self.model = self._first_model()
        return self

    def __exit__(self, *exc) -> None:
        pass  # not ours to stop

    def _first_model(self) -> str:
        request = urllib.request.Request(f"{self.base_url}/v1/models")
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                listing = json.load(response)
        except urllib.error.HTTPError as e:  # its reason phrase is the server's text: redacted like the rest
            raise UserError(
                "--endpoint",
                redact(f"{self.base_url}/v1/models answered HTTP {e.code} ({e.reason})"),
                "check the URL and the API key (serve.api_key_env), or name the served model with serve.endpoint_model",
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise UserError(
                "--endpoint",
                redact(f"{self.base_url}/v1/models did not answer ({e})"),
                "start the server, or fix the URL (e.g. http://127.0.0.1:8000)",
            ) from None
        models = listing.get("data") if isinstance(listing, dict) else None
        if not models or not isinstance(models, list):
            raise UserError("--endpoint", "the server lists no model", "give the served name with serve.endpoint_model")
        first = models[0]
        if not isinstance(first, dict) or not isinstance(first.get("id"), str):
            raise UserError(
                "--endpoint",
                "the server's model list names no model id",
                "give the served name with serve.endpoint_model",
            )
        return first["id"]

    def describe(self) -> dict:
        return {
            "name": "endpoint",
            "mode": "serve",
            "server": "existing endpoint (not started by tokencost)",
            "url": redact(self.base_url),
            "served_model": self.model,
            "sampling": SAMPLING.describe(),
        }


def is_local(url: str) -> bool:
    """Whether the URL's host is this machine, so local meters see the GPUs that serve it."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None) if isinstance(info[4][0], str)}
    except (socket.gaierror, UnicodeError, ValueError):  # unresolvable, or a host name IDNA cannot encode
        return False
    own = {a.address.split("%")[0] for nics in psutil.net_if_addrs().values() for a in nics}
    return any(ipaddress.ip_address(a.split("%")[0]).is_loopback or a.split("%")[0] in own for a in addresses)
