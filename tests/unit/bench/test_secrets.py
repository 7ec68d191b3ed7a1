"""`redact`: secret-looking variables, the endpoint's API key whatever its variable's name, URL credentials."""

import json

import pytest

from bench import secrets
from bench.secrets import REDACTED, redact, remember


@pytest.fixture(autouse=True)
def no_remembered_secrets():
    secrets.forget_all()
    yield
    secrets.forget_all()


def test_a_remembered_key_is_masked_whatever_its_variable_is_called():
    key = "k3y-VALUE-42"
    assert redact(f"401: bad key {key}", environ={"MY_AUTH": key}) == f"401: bad key {key}"  # name not secret-looking
    remember(key)
    assert redact(f"401: bad key {key}; again {key}", environ={}) == "401: bad key [redacted]; again [redacted]"


def test_a_secret_is_masked_in_text_written_as_json_too():
    key = 'k3y"with\\quote-é'
    remember(key)
    for dumped in (json.dumps({"error": f"echo {key}"}), json.dumps({"error": key}, ensure_ascii=False)):
        assert "k3y" not in redact(dumped, environ={})
        assert json.loads(redact(dumped, environ={}))  # still JSON


def test_the_longest_secret_is_masked_first_so_none_is_left_half_shown():
    remember("abcd")
    remember("abcdefgh-long")
    assert redact("abcdefgh-long abcd", environ={}) == f"{REDACTED} {REDACTED}"


def test_values_too_short_to_be_secrets_are_not_remembered():
    remember("ab1")
    remember(None)
    remember("")
    assert redact("ab1 stays", environ={}) == "ab1 stays"


@pytest.mark.parametrize(
    "url, shown",
    [
        ("http://user:pa55word@example.test/v1", "http://[redacted]@example.test/v1"),
        ("http://user:p@ss@word@example.test/v1", "http://[redacted]@example.test/v1"),  # "@" in the password
        ("https://ghp_tokenAsUser@example.test", "https://[redacted]@example.test"),
        ("http://u:pw@[::1]:8000/v1", "http://[redacted]@[::1]:8000/v1"),
        ("https://api.example.test/v1?api_key=sk-live-999&x=1", "https://api.example.test/v1?api_key=[redacted]&x=1"),
    ],
)
def test_url_credentials_are_masked(url, shown):
    assert redact(f"GET {url} failed", environ={}) == f"GET {shown} failed"


def test_json_around_a_url_stays_json():
    text = json.dumps({"url": "http://example.test/v1", "note": "mail a@b"}, separators=(",", ":"))
    assert redact(text, environ={}) == text


def test_secret_looking_variables_are_still_masked(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefSECRET123")
    assert "hf_abcdefSECRET123" not in redact("token hf_abcdefSECRET123")
