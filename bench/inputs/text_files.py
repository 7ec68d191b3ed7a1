"""A user's text file read whole, every way it can fail a one-line error naming the setting, file and line."""

from pathlib import Path

from bench.errors import UserError


def read_user_text(path: Path, field: str, what: str, format_fix: str, encoding: str = "utf-8") -> str:
    """The file's text; `what` names the file expected ("a trace file"), `format_fix` says what its text must be."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise UserError(field, f"{path} does not exist", f"give the path of {what}") from None
    except IsADirectoryError:
        raise UserError(field, f"{path} is a directory", f"give the path of {what} in it") from None
    except PermissionError:
        raise UserError(
            field, f"{path} cannot be read (permission denied)", "make it readable or give another file"
        ) from None
    except OSError as e:
        raise UserError(field, f"{path} cannot be read ({e.strerror or e})", "give a readable file") from None
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise UserError(field, f"{path} line {line}: is binary, not text", format_fix)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(field, f"{path} line {line}: is not UTF-8 text", format_fix) from None
