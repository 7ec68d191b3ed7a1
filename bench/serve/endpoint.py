"""An OpenAI-compatible server that is already running (vLLM, SGLang, TGI, TensorRT-LLM): measured, never started."""

import ipaddress
import json
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import psutil

from bench.engines.base import SAMPLING
from bench.errors import UserError
from bench.secrets import redact


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
                models = json.load(response).get("data") or []
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise UserError("--endpoint", f"{redact(self.base_url)}/v1/models did not answer ({e})",
                            "start the server, or fix the URL (e.g. http://127.0.0.1:8000)") from None
        if not models:
            raise UserError("--endpoint", "the server lists no model", "give the served name with serve.endpoint_model")
        return models[0]["id"]

    def describe(self) -> dict:
        return {"name": "endpoint", "mode": "serve", "server": "existing endpoint (not started by tokencost)",
                "url": redact(self.base_url), "served_model": self.model,
                "sampling": SAMPLING.describe()}


def is_local(url: str) -> bool:
    """Whether the URL's host is this machine, so local meters see the GPUs that serve it."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return False
    own = {a.address.split("%")[0] for nics in psutil.net_if_addrs().values() for a in nics}
    return any(ipaddress.ip_address(a.split("%")[0]).is_loopback or a.split("%")[0] in own for a in addresses)
