"""Whole-line chunks of a (gzipped) data file: the same text as gunzipping it whole, in pieces."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.sim.chunks import DataError, _inflate, text_chunks

_LINES = st.lists(
    st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=40),
    max_size=30,
)


@given(lines=_LINES, end=st.sampled_from(["", "\n"]), size=st.integers(1, 64), gz=st.booleans())
def test_chunks_join_to_the_text_and_split_into_its_lines(
    lines: list[str], end: str, size: int, gz: bool
) -> None:
    text = "\n".join(lines) + end
    raw = gzip.compress(text.encode()) if gz else text.encode()
    chunks = list(text_chunks(raw, gz, size))
    assert "".join(chunks) == text
    assert all(chunk.endswith("\n") for chunk in chunks[:-1])
    assert [line for chunk in chunks for line in chunk.split("\n")[:-1]] == text.split("\n")[:-1]


@given(parts=st.lists(st.binary(max_size=200), min_size=1, max_size=4), size=st.integers(1, 300))
def test_members_are_read_one_after_another_as_gzip_does(parts: list[bytes], size: int) -> None:
    raw = b"".join(gzip.compress(part) + b"\x00" * (i % 2) for i, part in enumerate(parts))
    assert b"".join(_inflate(raw, size, zlib)) == gzip.decompress(raw)


def test_the_stdlib_and_zlib_ng_inflate_the_same_bytes() -> None:
    zlib_ng = pytest.importorskip("zlib_ng.zlib_ng")
    raw = gzip.compress(bytes(range(256)) * 1000)
    assert b"".join(_inflate(raw, 4096, zlib_ng)) == b"".join(_inflate(raw, 4096, zlib))


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (gzip.compress(b"a line\n" * 1000)[:-20], "truncated"),
        (gzip.compress(b"a line\n")[:10] + b"\xff" * 30, "corrupt"),
        (b"plain text, not gzip\n", "corrupt"),
        (gzip.compress(b"ok\n\xff\xfe\n"), "UTF-8"),
    ],
)
def test_damaged_streams_raise_one_clear_error(raw: bytes, says: str) -> None:
    with pytest.raises(DataError, match=says):
        list(text_chunks(raw, True, 64))
