"""Encoding detection from the bytes, and the block transcoder."""

from __future__ import annotations

import codecs

import pytest

from huikuan.intake import encoding
from huikuan.intake.encoding import detect_encoding, detect_file_encoding, utf8_blocks
from huikuan.intake.errors import IntakeError

CHINESE = "客户名称,证件号码\r\n张三,11010119850301007X\r\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (codecs.BOM_UTF8 + CHINESE.encode(), "utf-8-sig"),
        (CHINESE.encode("utf-8"), "utf-8"),
        (CHINESE.encode("gbk"), "gb18030"),
        (CHINESE.encode("gb18030"), "gb18030"),
        ("客户,姓名".encode("utf-16"), "utf-16"),
        (b"name,amount\r\n", "utf-8"),
        (b"", "utf-8"),
    ],
)
def test_detect_encoding(data, expected):
    assert detect_encoding(data, complete=True) == expected


def test_a_sample_cut_inside_a_character_is_still_utf8():
    data = CHINESE.encode("utf-8")
    cut = data[:2]  # the first two of the three bytes of 客
    assert detect_encoding(cut) == "utf-8"
    assert detect_encoding(cut, complete=True) == "gb18030"  # at the end of a file it is wrong


def test_gbk_after_a_long_ascii_stretch(tmp_path, monkeypatch):
    monkeypatch.setattr(encoding, "SAMPLE_BYTES", 16)
    monkeypatch.setattr(encoding, "BLOCK_BYTES", 32)
    path = tmp_path / "late.csv"
    path.write_bytes(b"no,amount\r\n" * 20 + "1,张三\r\n".encode("gbk"))
    assert detect_file_encoding(path) == "gb18030"
    path.write_bytes(b"no,amount\r\n" * 20 + "1,张三\r\n".encode())
    assert detect_file_encoding(path) == "utf-8"
    path.write_bytes(b"no,amount\r\n" * 20)
    assert detect_file_encoding(path) == "utf-8"


@pytest.mark.parametrize("block_bytes", [1, 3, 7, 1024])
def test_gbk_blocks_decode_characters_cut_at_any_boundary(tmp_path, block_bytes):
    text = CHINESE * 5 + "尾"
    path = tmp_path / "gbk.csv"
    path.write_bytes(text.encode("gbk"))
    out = b"".join(utf8_blocks(path, "gb18030", block_bytes=block_bytes))
    assert out.decode("utf-8") == text


def test_utf8_blocks_drop_the_bom_and_pass_utf8_through(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + CHINESE.encode())
    assert b"".join(utf8_blocks(path, "utf-8-sig", block_bytes=5)) == CHINESE.encode()
    path.write_bytes(b"ab")  # shorter than a BOM
    assert b"".join(utf8_blocks(path, "utf-8")) == b"ab"


def test_undecodable_bytes_name_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes("a,b\r\n张三,1\r\n".encode("gbk") + b"\xff\xff,2\r\n")
    with pytest.raises(IntakeError, match="Line 3 "):
        b"".join(utf8_blocks(path, "gb18030", block_bytes=4))
