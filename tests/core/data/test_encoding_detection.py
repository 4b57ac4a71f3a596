from __future__ import annotations

import codecs

import pytest

from core.data.encoding import check_encoding_name, detect_encoding
from core.errors import UserError

TEXT = "text,label\ncafé crème,a\nnaïve façade,b\n"


def chunked(data: bytes, size: int = 1000) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),  # Python writes the BOM
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        (TEXT.encode("utf-8"), "utf-8"),
        (b"plain ascii,a\n", "utf-8"),
        (TEXT.encode("cp1252") + "€ \u2013 \u201cquotes\u201d".encode("cp1252"), "cp1252"),
        (TEXT.encode("latin-1") + b"\x81\x8d", "latin-1"),
    ],
)
def test_detects_each_supported_encoding(data, expected):
    assert detect_encoding(chunked(data)) == expected


def test_a_file_valid_utf8_for_its_first_megabytes_but_not_later_is_not_utf8():
    head = ("ascii row, a\n" * 200_000).encode("utf-8")  # ~2.6 MB of valid UTF-8
    data = head + "café,b\n".encode("cp1252")
    assert len(head) > 2 * 2**20
    assert detect_encoding(chunked(data, 2**20)) == "cp1252"


def test_a_multibyte_character_split_across_chunks_is_still_utf8():
    data = ("x" * 999 + "é").encode("utf-8")  # é straddles the 1000-byte chunk boundary
    assert detect_encoding(chunked(data, 1000)) == "utf-8"


def test_utf8_truncated_inside_a_character_at_the_end_is_not_utf8():
    data = "café".encode()[:-1]
    assert detect_encoding([data]) == "cp1252"


def test_unknown_encoding_name_is_a_user_error():
    assert check_encoding_name("UTF8") == "utf-8"
    with pytest.raises(UserError, match="unknown text encoding") as caught:
        check_encoding_name("klingon-8")
    assert "--encoding" in caught.value.hint


def test_a_binary_codec_is_not_accepted_as_a_text_encoding():
    with pytest.raises(UserError):
        check_encoding_name("base64")


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("cp1252", "cp1252"), ("utf-16", "utf-16"), ("utf-8-sig", "utf-8-sig")],
)
def test_import_reports_and_uses_the_detected_encoding(
    tmp_path, do_import, project, encoding, expected
):
    path = tmp_path / "data.csv"
    path.write_bytes("text,label\ncafé crème,a\nnaïve € façade,b\n".encode(encoding))
    result = do_import(path, label_column="label")
    assert result.encoding == expected
    texts = {row[0] for row in project.store.conn.execute("SELECT text FROM records")}
    assert texts == {"café crème", "naïve € façade"}
    columns = project.store.scalar("SELECT column_map FROM datasets")
    assert '"text": "text"' in columns


def test_a_wrong_explicit_encoding_fails_with_the_row_and_a_hint(
    tmp_path, do_import, project, nothing_written
):
    path = tmp_path / "data.csv"
    path.write_bytes("text\nok\ncafé\n".encode("cp1252"))
    with pytest.raises(UserError, match="not valid utf-8 text") as caught:
        do_import(path, encoding="utf-8")
    assert "--encoding" in caught.value.hint
    nothing_written(project)
