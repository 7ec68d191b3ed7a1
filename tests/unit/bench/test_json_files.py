"""The one JSON reader of users' files: what Python's json lets through is refused, naming the field."""

import json
import math

import pytest

from bench.errors import UserError
from bench.inputs.json_files import MAX_DEPTH, JsonProblem, loads_json, read_user_json

REFUSED = {  # text: (what the problem says, the field it names)
    '{"a": 1e999}': ("is 1e999, not a finite number", "a"),
    '{"a": -1e400}': ("not a finite number", "a"),
    '{"a": [1, {"b": NaN}]}': ("is NaN, not a JSON number", "a[1].b"),
    '{"a": Infinity}': ("is Infinity, not a JSON number", "a"),
    '{"a": -Infinity}': ("is -Infinity, not a JSON number", "a"),
    '{"a": 9223372036854775808}': ("larger than 2^63 - 1", "a"),
    '{"a": -9223372036854775808}': ("larger than 2^63 - 1", "a"),
    '{"a": ' + "9" * 400 + "}": ("(400 digits)", "a"),
    '{"a": ' + "9" * 5000 + "}": ("(5000 digits)", "a"),
    "[" * 65 + "]" * 65: (f"nested more than {MAX_DEPTH} levels deep", ""),
    "[" * 100_000: (f"nested more than {MAX_DEPTH} levels deep", ""),
    '{"a": ' * 3000 + "1" + "}" * 3000: (f"nested more than {MAX_DEPTH} levels deep", ""),
    "": ("is not valid JSON (Expecting value at line 1 column 1)", ""),
    '{"a": 1,}': ("is not valid JSON", ""),
    "NaN": ("is NaN, not a JSON number", "(top level)"),
}


@pytest.mark.parametrize("text", list(REFUSED), ids=[t[:30] for t in REFUSED])
def test_what_python_json_lets_through_is_refused_naming_the_field(text):
    says, field = REFUSED[text]
    with pytest.raises(JsonProblem) as problem:
        loads_json(text)
    assert says in str(problem.value) and problem.value.at == field, str(problem.value)


@pytest.mark.parametrize(
    "text, value",
    [
        ('{"a": 9223372036854775807}', {"a": 2**63 - 1}),
        ('{"a": -9223372036854775807}', {"a": -(2**63) + 1}),
        ('{"a": 1.5e308, "b": [0.0, -0]}', {"a": 1.5e308, "b": [0.0, 0]}),
        ("[" * MAX_DEPTH + "]" * MAX_DEPTH, json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)),
    ],
)
def test_ordinary_json_reads_as_python_json_reads_it(text, value):
    assert loads_json(text) == value


def test_infinity_is_read_only_where_asked_for():
    assert loads_json('{"request_rate": Infinity}', infinity=True) == {"request_rate": math.inf}
    with pytest.raises(JsonProblem):
        loads_json('{"request_rate": NaN}', infinity=True)


@pytest.mark.parametrize(
    "content, says",
    [
        (b'{"a": 1e999}', "a is 1e999"),
        (b'{"a": \x00}', "binary"),
        ('{"a": "é"}'.encode("latin-1"), "UTF-8"),
        (b"[" * 100_000, "nested"),
        (None, "does not exist"),
        ("dir", "is a directory"),
    ],
)
def test_a_file_is_refused_in_one_line_naming_the_setting_and_the_file(tmp_path, content, says):
    path = tmp_path / "x.json"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError) as error:
        read_user_json(path, "SETTING", "a JSON file", "give a JSON file")
    message = str(error.value)
    assert message.startswith("SETTING: ") and str(path) in message and says in message, message
    assert "\n" not in message and "; give " in message
