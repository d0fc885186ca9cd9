"""A data file's bytes as whole-line text chunks, gunzipped as they are consumed.

Parsing a capture chunk by chunk holds a few MiB of text at a time instead of the whole decoded
file (a 3.6 MB gzip is 23 MB of text, a str of it another 23 MB and its lines as much again),
and a chunk that fits the CPU caches decompresses faster than one 23 MB buffer. zlib-ng
(``zlib_ng``, already installed with ccxt) inflates about 2.5x faster than the stdlib's zlib;
the stdlib is used when it is missing. Chunks end right after a ``\\n``, so splitting each
one into lines gives exactly the lines of the whole text.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from types import ModuleType

_inflate_module: ModuleType = zlib
try:  # the same deflate, a faster inflater; the output is the same bytes
    from zlib_ng import zlib_ng

    _inflate_module = zlib_ng
except ImportError:  # pragma: no cover - zlib-ng comes with ccxt
    pass

__all__ = ["CHUNK_BYTES", "DataError", "decode", "line_blocks", "text_chunks"]

CHUNK_BYTES = 1 << 22  # decompressed bytes per chunk (4 MiB): a few chunks per capture
_GZIP_WBITS = 31  # zlib window bits that read (only) the gzip container


class DataError(ValueError):
    """The bytes are not the gzip (or UTF-8 text) they claim to be; the message says why."""


def line_blocks(raw: bytes, gzipped: bool, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The bytes of ``raw`` (gunzipped when ``gzipped``) in blocks of whole lines.

    Every block but the last ends with ``\\n``; the last holds what follows the final newline
    (possibly nothing, then it is not yielded). Concatenated, the blocks are the whole content.
    Raises :class:`DataError` for a corrupt or truncated gzip stream (at the block where it
    shows). O(len(content)); memory O(chunk_bytes).
    """
    blocks = _inflate(raw, chunk_bytes, _inflate_module) if gzipped else _slices(raw, chunk_bytes)
    tail = b""
    for block in blocks:
        cut = block.rfind(b"\n") + 1
        if not cut:
            tail += block
            continue
        yield tail + block[:cut] if tail else block[:cut]
        tail = block[cut:]
    if tail:
        yield tail


def text_chunks(raw: bytes, gzipped: bool, chunk_bytes: int = CHUNK_BYTES) -> Iterator[str]:
    """:func:`line_blocks` decoded: UTF-8 text in chunks of whole lines (DataError if not UTF-8)."""
    return map(decode, line_blocks(raw, gzipped, chunk_bytes))


def decode(block: bytes) -> str:
    """UTF-8 bytes as str; :class:`DataError` saying so when they are not UTF-8."""
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} in a line)") from None


def _slices(raw: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def _inflate(raw: bytes, size: int, module: ModuleType) -> Iterator[bytes]:
    """Gunzip ``raw`` in output blocks of at most ``size`` bytes; members one after another, as
    ``gzip.decompress`` reads them."""
    data = raw
    while data:
        inflater = module.decompressobj(_GZIP_WBITS)
        try:
            while data and not inflater.eof:
                block = inflater.decompress(data, size)
                data = inflater.unconsumed_tail
                if block:
                    yield block
            # Input used up before the member's end: what the inflater still holds. (Not after
            # the end: flush would then append the unconsumed tail to unused_data once more.)
            block = b"" if inflater.eof else inflater.flush()
        except module.error as exc:
            raise DataError(f"a corrupt gzip stream ({exc})") from None
        if block:
            yield block
        if not inflater.eof:
            raise DataError("a truncated gzip stream (it ends before its last member does)")
        # Another member may follow; gzip.decompress skips zero padding between members too
        data = inflater.unused_data.lstrip(b"\x00")
