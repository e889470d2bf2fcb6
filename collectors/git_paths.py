"""File names as git writes them in patch output, decoded exactly.

Commands that list paths take ``-z`` and need no decoding (``git ls-tree -z``).
A patch has no ``-z`` form: its header names are C-quoted when they hold a
control character, a quote or a backslash (``"b/evil\\033[31m.env"``), and
followed by a TAB when they hold a space (``+++ b/prod app.env<TAB>``, for
patch(1)). Taking the rest of the line as the name keeps that TAB, and a
half-decoded quote keeps the quotes: either way the path no longer matches
the rules that look at it. These functions undo git's quoting byte for byte
(``quote.c``: ``quote_c_style``).
"""

from __future__ import annotations

_C_ESCAPES = {ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10, ord("v"): 11, ord("f"): 12,
              ord("r"): 13, ord('"'): 34, ord("\\"): 92}
DST_PREFIX = b"b/"


def _unquote(name: bytes) -> bytes:
    """``name`` without git's C-style quotes (``"..."`` with ``\\ooo`` and ``\\n`` escapes)."""
    if not (len(name) >= 2 and name[:1] == b'"' and name[-1:] == b'"'):
        return name
    out = bytearray()
    body, i = name[1:-1], 0
    while i < len(body):
        c = body[i]
        if c != 0x5C or i + 1 == len(body):  # not a backslash
            out.append(c)
            i += 1
        elif body[i + 1 : i + 4].isdigit() and len(body[i + 1 : i + 4]) == 3:
            out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            out.append(_C_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
    return bytes(out)


def _decode(name: bytes) -> str | None:
    """The repository path of one header name (``b/…`` or ``"b/…"``); None for /dev/null."""
    raw = _unquote(name)
    if raw == b"/dev/null":
        return None
    return raw.removeprefix(DST_PREFIX).decode("utf-8", "replace")  # as `git ls-tree -z` paths are decoded


def new_path_of_header(line: bytes) -> str | None:
    """The path of a ``+++ NAME`` line of ``git diff``/``git log -p``; None for a deletion."""
    name = line[4:].rstrip(b"\n")
    if name.endswith(b"\t"):
        name = name[:-1]  # git's marker after a name with a space; a real TAB is quoted
    return _decode(name)


def new_path_of_binary_line(line: bytes) -> str | None:
    """The new path of ``Binary files OLD and NEW differ``; None for a deletion or no match.

    Either name may hold " and ". An added file is ``/dev/null and b/P`` and a
    deleted one ``a/P and /dev/null``; an unrenamed file (``a/P and b/P``) is
    split in the middle; only a renamed one is split at the last `` and b/``.
    """
    text = line.rstrip(b"\n")
    if not (text.startswith(b"Binary files ") and text.endswith(b" differ")):
        return None
    names = text[len(b"Binary files "):-len(b" differ")]
    sep, null = b" and ", b"/dev/null"
    if names.endswith(sep + null):
        return None
    if names.startswith(null + sep):
        return _decode(names[len(null + sep):])
    half = (len(names) - len(sep)) // 2
    if names[half : half + len(sep)] == sep and names[:half][2:] == names[half + len(sep):][2:]:
        return _decode(names[half + len(sep):])
    cut = max(names.rfind(sep + DST_PREFIX), names.rfind(sep + b'"' + DST_PREFIX))
    return _decode(names[cut + len(sep):]) if cut >= 0 else None


def path_of_rename_line(line: bytes) -> str | None:
    """The path of a ``rename from NAME`` / ``rename to NAME`` line (no ``a/``/``b/`` prefix there)."""
    for marker in (b"rename from ", b"rename to "):
        if line.startswith(marker):
            return _unquote(line[len(marker):].rstrip(b"\n")).decode("utf-8", "replace")
    return None
