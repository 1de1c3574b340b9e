"""Attachments: files read at send time, gzipped on the fly, and capped per message.

A log file is the usual attachment, and logs compress ten to one, so anything not already
compressed is gzipped. Files that are missing or would push the message over its cap are left
out with a note in the message; preparing attachments never raises.
"""

from __future__ import annotations

import dataclasses
import gzip
import mimetypes
from collections.abc import Sequence
from pathlib import Path

#: Most mail servers accept 10 to 25 MB; base64 adds a third.
DEFAULT_MAX_ATTACHMENT_BYTES = 7 * 1024 * 1024

#: Leading bytes of formats that are compressed already: gzip, zip, bzip2, xz, zstd, PNG, JPEG.
_COMPRESSED_MAGIC = (
    b"\x1f\x8b",
    b"PK\x03\x04",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"\x28\xb5\x2f\xfd",
    b"\x89PNG",
    b"\xff\xd8\xff",
)


@dataclasses.dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str
    original_size: int

    @property
    def maintype(self) -> str:
        return self.mimetype.split("/", 1)[0]

    @property
    def subtype(self) -> str:
        return self.mimetype.split("/", 1)[1]


def prepare(
    paths: Sequence[str | Path], max_total_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
) -> tuple[list[Attachment], list[str]]:
    """Read, compress and cap the files; return the attachments and notes on what was left out."""
    attachments: list[Attachment] = []
    notes: list[str] = []
    total = 0
    for entry in [paths] if isinstance(paths, (str, Path)) else paths:
        path = Path(entry)
        try:
            data = path.read_bytes()
        except OSError as error:
            notes.append(f"attachment {str(path)!r} could not be read ({error.strerror or error})")
            continue
        attachment = _compressed(path.name, data)
        if total + len(attachment.content) > max_total_bytes:
            notes.append(
                f"attachment {path.name!r} left out: {_size(len(attachment.content))} would pass "
                f"the message's {_size(max_total_bytes)} limit"
            )
            continue
        total += len(attachment.content)
        attachments.append(attachment)
    return attachments, notes


def _compressed(name: str, data: bytes) -> Attachment:
    if data.startswith(_COMPRESSED_MAGIC):
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Attachment(name, data, mimetype, len(data))
    # mtime=0: the same log gives the same bytes, so a retried send is identical.
    return Attachment(f"{name}.gz", gzip.compress(data, mtime=0), "application/gzip", len(data))


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB"):
        if count < 1024 or unit == "MB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return f"{count} bytes"  # pragma: no cover - the loop always returns


def describe(attachment: Attachment) -> str:
    """One line for a channel that cannot carry files: name and sizes."""
    if attachment.original_size != len(attachment.content):
        return (
            f"{attachment.filename} ({_size(len(attachment.content))}, "
            f"{_size(attachment.original_size)} uncompressed)"
        )
    return f"{attachment.filename} ({_size(len(attachment.content))})"
