"""Reading a netlist file: bytes to text (encodings, line endings), text to SPICE's logical lines.

Netlists come from many tools. :func:`decode_netlist` accepts

* UTF-8, with or without a byte-order mark;
* UTF-16 with a byte-order mark (LTspice writes UTF-16LE with one);
* anything else that is text: read as Latin-1, with a warning on the ``kaspix.spice`` logger naming
  the file and the line and byte offset of the first byte that is not UTF-8.

It refuses binary data (a NUL or another control byte, e.g. UTF-16 without its mark), naming the
file, line and byte offset. Line endings may be ``\\n``, ``\\r\\n`` or ``\\r``; only they end lines
(not the form feeds and Unicode separators that :meth:`str.splitlines` also splits on), so line
numbers are the ones an editor shows.
"""

from __future__ import annotations

import codecs
import logging
import re
from pathlib import Path

from kaspix import KaspixError

__all__ = ["decode_netlist", "logical_lines", "read_template_text"]

log = logging.getLogger("kaspix.spice")

#: Control characters no netlist holds (tab, line feed, vertical tab, form feed and carriage return are allowed).
_CONTROL = "[\x00-\x08\x0e-\x1f\x7f]"
_CONTROL_TEXT = re.compile(_CONTROL)
_CONTROL_BYTES = re.compile(_CONTROL.encode())


def read_template_text(path: Path) -> str:
    """The text of a netlist file (see :func:`decode_netlist`); a missing file is a :class:`KaspixError`."""
    if not path.is_file():
        raise KaspixError(f"netlist not found: {path}", hint="give a .cir path or a shipped name (`kaspix spice inspect --list`)")
    return decode_netlist(path.read_bytes(), path)


def decode_netlist(data: bytes, path: Path) -> str:
    """Decode a netlist's bytes into text with ``\\n`` line endings.

    Raises:
        KaspixError: binary data, or UTF-16 that does not decode (file, line and byte offset).
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16-le" if data.startswith(codecs.BOM_UTF16_LE) else "utf-16-be"
        try:
            text = data[2:].decode(encoding)
        except UnicodeDecodeError as exc:
            offset = exc.start + 2
            raise _refuse(
                path, data, offset, f"not valid UTF-16 ({exc.reason}) at byte offset {offset}", "save the netlist as UTF-8"
            ) from None
        if match := _CONTROL_TEXT.search(text):
            offset = 2 + len(text[: match.start()].encode(encoding))
            message = f"binary data: control character {match.group()!r} at byte offset {offset} of UTF-16 text"
            raise _refuse(path, data, offset, message, "save the netlist as plain text")
        return _normalize_newlines(text)
    body = data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data
    start = len(data) - len(body)
    if match := _CONTROL_BYTES.search(body):
        offset = start + match.start()
        raise _refuse(
            path,
            data,
            offset,
            f"binary data: byte 0x{match.group()[0]:02X} at byte offset {offset}, not netlist text",
            "give a SPICE netlist saved as text (UTF-8; UTF-16 only with its byte-order mark)",
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        log.warning(
            "%s: not UTF-8 (byte 0x%02X on line %d, byte offset %d); read as Latin-1. Save it as UTF-8 to be sure of its accents.",
            path,
            data[offset],
            _line_of(data, offset),
            offset,
        )
        text = body.decode("latin-1")
    return _normalize_newlines(text)


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _line_of(data: bytes, offset: int) -> int:
    """The 1-based line of a byte offset (counting ``\\n`` and lone ``\\r`` endings; UTF-16 counts its own)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16-le" if data.startswith(codecs.BOM_UTF16_LE) else "utf-16-be"
        head = data[2 : offset - (offset % 2)].decode(encoding, errors="replace")
    else:
        head = data[:offset].decode("latin-1")
    return _normalize_newlines(head).count("\n") + 1


def _refuse(path: Path, data: bytes, offset: int, message: str, hint: str) -> KaspixError:
    return KaspixError(message, where=f"{path}, line {_line_of(data, offset)}", hint=hint)


def logical_lines(text: str) -> list[tuple[int, str, str]]:
    """Join ``+`` continuation lines; return (first line number, code without comment, comment).

    A ``*`` line is all comment (its code is empty); ``;`` and `` $ `` start a comment at the end
    of a line. A ``+`` line continues the last line with code, past comment lines between them.
    """
    result: list[tuple[int, str, str]] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        code, _, comment = stripped.partition(";")
        if stripped.startswith("*"):
            result.append((number, "", stripped))
            continue
        if " $ " in code:
            code, _, more = code.partition(" $ ")
            comment = (comment + " " + more).strip()
        if code.startswith("+") and (previous := next((i for i in reversed(range(len(result))) if result[i][1]), None)) is not None:
            first, prev_code, prev_comment = result[previous]
            result[previous] = (first, prev_code + " " + code[1:].strip(), (prev_comment + " " + comment).strip())
        else:
            result.append((number, code.strip(), comment.strip()))
    return result
