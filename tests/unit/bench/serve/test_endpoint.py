"""An endpoint URL and its API key variable, checked in one line before anything starts; nothing secret echoed."""

import pytest

from bench import secrets
from bench.errors import UserError
from bench.secrets import redact
from bench.serve.endpoint import ExistingEndpoint, check_endpoint

PASSWORD = "s3cretPw9"


@pytest.fixture(autouse=True)
def no_remembered_secrets():
    secrets.forget_all()
    yield
    secrets.forget_all()


def refused(url, api_key_env=None, environ=None) -> str:
    with pytest.raises(UserError) as caught:
        check_endpoint(url, api_key_env, environ or {})
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message
    assert PASSWORD not in message and "s3cret" not in message
    return message


@pytest.mark.parametrize(
    "url, says",
    [
        (f"http://user:{PASSWORD}@example.invalid/v1", "holds credentials"),  # no port: once a traceback
        (f"http://user:{PASSWORD}@127.0.0.1:8000/v1", "holds credentials"),
        (f"https://{PASSWORD}@example.invalid", "holds credentials"),  # a token as the user name
        (f"http://user:{PASSWORD}@with@at@example.invalid/", "holds credentials"),
        ("http://[::1/v1", "is not a valid URL"),
        (f"http://user:{PASSWORD}@[::1/v1", "is not a valid URL"),
        ("http://127.0.0.1:eighty/v1", "is not a valid URL"),
        (f"http://user:{PASSWORD}@host:x/", "is not a valid URL"),
        ("http://127.0.0.1:70000/", "is not a valid URL"),
        (f"http://user:{PASSWORD}/x@host/", "is not a valid URL"),  # a "/" in the password splits the URL
        ("http:///v1", "has no host"),
        ("http://:8000/v1", "has no host"),
        ("http://127.0.0.1:0/v1", "port 0"),
        (f"ftp://user:{PASSWORD}@example.invalid/", "is not an http:// or https:// URL"),
        ("file:///etc/passwd", "is not an http:// or https:// URL"),
        (f"http://127.0.0.1:8000/v1?api_key={PASSWORD}", "has a query or fragment"),
        ("http://127.0.0.1:8000/v1#frag", "has a query or fragment"),
        ("http://127.0.0.1:8000/v1\n", "line break"),
        ("http://exam ple.com/", "a space"),
    ],
)
def test_a_bad_endpoint_is_one_line_naming_the_field_without_the_password(url, says):
    message = refused(url)
    assert message.startswith("--endpoint: ") and says in message


def test_credentials_in_the_url_point_to_an_api_key_variable():
    message = refused(f"http://user:{PASSWORD}@example.invalid/v1")
    assert "serve.api_key_env" in message and "Bearer" in message


def test_a_refused_password_is_masked_from_then_on():
    refused(f"http://user:{PASSWORD}@example.invalid/v1")
    assert redact(f"the server said {PASSWORD}") == "the server said [redacted]"


@pytest.mark.parametrize("environ", [{}, {"TOKENCOST_KEY": ""}])
def test_an_api_key_variable_that_is_not_set_is_one_line(environ):
    message = refused("http://127.0.0.1:8000", "TOKENCOST_KEY", environ)
    assert message == "serve.api_key_env: TOKENCOST_KEY is not set; export it, or leave api_key_env out"


def test_a_key_given_where_its_variable_s_name_belongs_is_not_echoed():
    message = refused("http://127.0.0.1:8000", f"sk-{PASSWORD}")
    assert message.startswith("serve.api_key_env: is not the name of an environment variable")


@pytest.mark.parametrize("key", [f"{PASSWORD}\r", f"{PASSWORD}\nx", f"{PASSWORD}é"])
def test_a_key_no_http_header_can_carry_is_refused_without_echoing_it(key):
    message = refused("http://127.0.0.1:8000", "MY_AUTH", {"MY_AUTH": key})
    assert message.startswith("serve.api_key_env: MY_AUTH holds a line break")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://127.0.0.1:8000/v1/",
        "https://api.example.test/v1",
        "http://[::1]:8000/v1",
        "http://localhost",
    ],
)
def test_a_good_endpoint_passes_and_its_key_is_masked_from_then_on(url):
    check_endpoint(url, "MY_AUTH", {"MY_AUTH": "k-" + PASSWORD})  # a name that does not look secret
    assert redact(f"echo: k-{PASSWORD}") == "echo: [redacted]"
    check_endpoint(url, None, {})
    check_endpoint(None, None, {})  # no endpoint: nothing to check


def test_a_model_list_that_is_not_one_is_a_user_error(monkeypatch):
    class Answer:
        def __init__(self, body):
            self.body = body

        def __enter__(self):
            import io

            return io.BytesIO(self.body)

        def __exit__(self, *exc):
            pass

    for body in (b"[]", b'{"data": "x"}', b'{"data": [1]}', b'{"data": [{"id": 3}]}', b'{"data": []}'):
        monkeypatch.setattr("urllib.request.urlopen", lambda request, timeout, body=body: Answer(body))
        with pytest.raises(UserError, match="^--endpoint: the server"):
            ExistingEndpoint("http://127.0.0.1:9").__enter__()


@pytest.mark.parametrize("url", ["http://" + "a" * 64 + ":8000", "http://a..b:8000/v1", "http://.:8000"])
def test_a_host_name_idna_cannot_encode_is_one_line_not_a_crash(url):
    from bench.serve.endpoint import check_endpoint, is_local

    with pytest.raises(UserError, match="^--endpoint: has a host name that is not valid"):
        check_endpoint(url, None, {})
    assert is_local(url) is False
