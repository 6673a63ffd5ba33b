"""Which encoding a text file is in, decided from its bytes, and a streaming transcoder to UTF-8.

Chinese Excel saves "CSV" in GBK (code page 936), "CSV UTF-8" with a BOM; other tools write
UTF-8 without one. We never ask the user: a BOM decides; else bytes that decode as UTF-8 are
UTF-8 (GBK text of more than a few characters is practically never valid UTF-8); else GB18030,
the superset of GBK that also decodes every GBK file. UTF-16 with a BOM (Excel's "Unicode
text") is recognised too and transcoded like GB18030, block by block (:func:`utf8_blocks`).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from huikuan.intake.errors import IntakeError
from huikuan.lib._translate import _

SAMPLE_BYTES = 64 * 1024
BLOCK_BYTES = 1024 * 1024

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def detect_encoding(sample: bytes, *, complete: bool = False) -> str:
    """``"utf-8-sig"``, ``"utf-16"``, ``"utf-8"`` or ``"gb18030"`` for the first bytes of a file.

    ``complete=False`` (a sample cut from a longer file) forgives a multi-byte character cut in
    half at the end of the sample, which a plain ``sample.decode()`` would call invalid.
    """
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def detect_file_encoding(path: Path) -> str:
    """:func:`detect_encoding` on the first non-ASCII bytes of the file.

    A sample of pure ASCII says nothing (both encodings agree on it), so we read on, block by
    block, to the first block with a non-ASCII byte. Each block then starts right after an
    ASCII byte, so on a character boundary.
    """
    size = SAMPLE_BYTES
    with path.open("rb") as f:
        block = f.read(size)
        while block.isascii():  # a BOM is not ASCII: it ends the loop at once
            if len(block) < size:  # the end of the file, all of it ASCII
                return "utf-8"
            size = BLOCK_BYTES
            block = f.read(size)
        # A short read of a regular file means its end: no character can be cut there.
        return detect_encoding(block, complete=len(block) < size)


def utf8_blocks(path: Path, encoding: str, *, block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """The file as UTF-8 bytes, block by block (flat memory, any size), without a BOM.

    UTF-8 blocks pass through untouched (Polars checks them as it parses); any other
    encoding is decoded incrementally, so a character cut by a block boundary is whole in the
    output. Bytes that are not valid in ``encoding`` raise :class:`IntakeError` naming the
    line: a replacement character would silently change a name or a contract number.
    """
    with path.open("rb") as f:
        if encoding in ("utf-8", "utf-8-sig"):
            head = f.read(len(codecs.BOM_UTF8))
            if head and head != codecs.BOM_UTF8:
                yield head
            while block := f.read(block_bytes):
                yield block
            return
        decoder = codecs.getincrementaldecoder(encoding)()
        line = 1
        while True:
            block = f.read(block_bytes)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                bad_line = line + block[: exc.start].count(b"\n")
                raise IntakeError(not_text_message(bad_line)) from None
            if text:
                yield text.encode("utf-8")
            if not block:
                return
            line += block.count(b"\n")


def not_text_message(line: int) -> str:
    return _(
        "Line %(line)s of the file is not text in UTF-8 or GBK. Save the sheet again as "
        "“CSV UTF-8” or as an Excel workbook (.xlsx)."
    ) % {"line": line}
