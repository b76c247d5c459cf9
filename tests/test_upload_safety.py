"""Hostile files, as an HTTP client could upload them, refused quickly and cheaply.

Every file is built here for real (no mocks): zip bombs posing as DOCX and PPTX, including
one whose zip directory lies about its sizes, PDFs whose page tree claims or hides 100,000
pages, and files whose content is not what their name says. A refusal must come within
seconds and without the memory the file asks for, so :func:`refusal` measures both.
"""

from __future__ import annotations

import codecs
import io
import random
import re
import struct
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from ingest.document import ParseError
from ingest.filetypes import CHECKS, UnsupportedType, sniff
from ingest.parsers import DEFAULT_LIMITS, SUPPORTED_SUFFIXES, ParseLimits, parse_file
from ingest.pipeline import Ingestor
from search.knowledge_base import KnowledgeBase
from search.settings import Settings
from tests.filemakers import OLE_MAGIC, SlideSpec, make_docx, make_pdf, make_pptx

MB = 1_000_000
# A refusal may take this long and hold this much Python memory at its peak (traced, which
# slows it down). The bombs ask for 50 to 600 MB; refusing one holds a 1 MB chunk at most,
# and walking a PDF's page tree up to the limit holds about 10 MB of page objects.
MAX_SECONDS = 5.0
MAX_PEAK_BYTES = 20 * MB


def refusal(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> str:
    """The reason ``parse_file`` refuses ``path``, after checking it came fast and cheap."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ParseError) as caught:
            parse_file(path, limits)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < MAX_SECONDS, f"refused after {seconds:.1f} s"
    assert peak < MAX_PEAK_BYTES, f"peak of {peak / MB:.0f} MB while refusing"
    return caught.value.reason


# --- zip bombs ----------------------------------------------------------------------------


def zip_bomb(path: Path, package: Path, part: str, zeros: int, level: int = 6) -> Path:
    """``package`` (a real DOCX or PPTX) rewritten to ``path`` with ``part`` replaced by
    ``zeros`` zero bytes, deflated as streamed: about 1 KB on disk per MB inflated (level 6),
    5 KB at level 1, which is three times faster to write."""
    block = bytes(MB)
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(
        path, "w", zipfile.ZIP_DEFLATED, compresslevel=level
    ) as bomb:
        for entry in source.infolist():
            if entry.filename != part:
                bomb.writestr(entry, source.read(entry))
        with bomb.open(part, "w", force_zip64=True) as stream:
            for start in range(0, zeros, MB):
                stream.write(block[: min(MB, zeros - start)])
    return path


def lie_about_size(path: Path, part: str, declared: int) -> None:
    """Make the zip directory say that ``part`` inflates to ``declared`` zero bytes, with
    their CRC, so that only inflating it shows the lie."""
    data = bytearray(path.read_bytes())
    header = data.find(b"PK\x01\x02")
    while data[header + 46 : header + 46 + len(part)] != part.encode():
        header = data.find(b"PK\x01\x02", header + 1)
    struct.pack_into("<I", data, header + 16, zlib.crc32(bytes(declared)))
    struct.pack_into("<I", data, header + 24, declared)
    path.write_bytes(data)


@pytest.fixture
def docx_file(tmp_path: Path) -> Path:
    return make_docx(tmp_path / "real.docx", ["A normal paragraph."])


@pytest.fixture
def pptx_file(tmp_path: Path) -> Path:
    return make_pptx(tmp_path / "real.pptx", [SlideSpec(title="A normal slide")])


def test_docx_bomb_over_the_default_limit(tmp_path: Path, docx_file: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.docx", docx_file, "word/document.xml", 600 * MB, level=1)
    assert bomb.stat().st_size < 5 * MB
    expected = r"zip bomb suspected: would inflate to 60\d MB \(limit 500 MB\)"
    assert re.fullmatch(expected, refusal(bomb))


def test_pptx_bomb_over_the_default_limit(tmp_path: Path, pptx_file: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.pptx", pptx_file, "ppt/slides/slide1.xml", 600 * MB, 1)
    expected = r"zip bomb suspected: would inflate to 60\d MB \(limit 500 MB\)"
    assert re.fullmatch(expected, refusal(bomb))


def test_bomb_over_a_configured_limit(tmp_path: Path, pptx_file: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.pptx", pptx_file, "ppt/media/image9.png", 6 * MB)
    expected = "zip bomb suspected: would inflate to 6.1 MB (limit 5 MB)"
    assert refusal(bomb, ParseLimits(max_unzipped_bytes=5 * MB)) == expected
    assert parse_file(pptx_file, ParseLimits(max_unzipped_bytes=5 * MB)).units


def test_bomb_under_the_limit_refused_for_its_ratio(tmp_path: Path, docx_file: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.docx", docx_file, "word/document.xml", 20 * MB)
    reason = refusal(bomb)
    assert reason.startswith("zip bomb suspected: compression ratio ")
    assert reason.endswith(":1 for word/document.xml (limit 200:1)")


def test_bomb_of_many_parts_each_under_the_ratio_floor(tmp_path: Path, docx_file: Path) -> None:
    """Forty 1 MB parts of zeros: no part is large enough for the per-part ratio, the
    whole package is (as 49 parts of 9.9 MB were, 485 MB under the 500 MB limit)."""
    bomb = tmp_path / "parts.docx"
    with zipfile.ZipFile(docx_file) as original, zipfile.ZipFile(bomb, "w") as package:
        for entry in original.infolist():
            package.writestr(entry, original.read(entry), zipfile.ZIP_DEFLATED)
        for i in range(40):
            package.writestr(f"word/media/zeros{i}.bin", bytes(MB), zipfile.ZIP_DEFLATED)
    reason = refusal(bomb)
    assert re.fullmatch(r"zip bomb suspected: compression ratio \d+:1 over its \d+ parts "
                        r"\(limit 200:1\)", reason), reason


def test_bomb_whose_directory_lies_about_its_size(tmp_path: Path, docx_file: Path) -> None:
    """A part that declares 1 KB but inflates to 50 MB: python-docx would inflate all of it
    at once (ZipFile.read cuts to the declared size only afterwards)."""
    bomb = zip_bomb(tmp_path / "liar.docx", docx_file, "word/document.xml", 50 * MB)
    lie_about_size(bomb, "word/document.xml", 1000)
    expected = "zip bomb suspected: word/document.xml inflates past the 1000 bytes it declares"
    assert refusal(bomb) == expected
    with zipfile.ZipFile(bomb) as archive:  # what the check relies on: reads stop there
        assert len(archive.read("word/document.xml")) == 1000


def crowded_package(path: Path, package: Path, extra: int, name_bytes: int = 20) -> Path:
    """``package`` with ``extra`` empty parts more, named with ``name_bytes`` bytes each."""
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(path, "w") as target:
        for entry in source.infolist():
            target.writestr(entry, source.read(entry))
        for number in range(extra):
            target.writestr(f"extra/{number}.xml".rjust(name_bytes, "x"), b"")
    return path


def test_package_with_too_many_entries(tmp_path: Path, docx_file: Path) -> None:
    crowded = crowded_package(tmp_path / "crowded.docx", docx_file, 10_001)
    with zipfile.ZipFile(crowded) as archive:
        entries = len(archive.infolist())
    assert refusal(crowded) == f"zip bomb suspected: {entries} entries (limit 10000)"
    # The end record's count can be lowered; the entries are counted again once loaded.
    data = bytearray(crowded.read_bytes())
    struct.pack_into("<HH", data, data.rfind(b"PK\x05\x06") + 8, 5, 5)
    crowded.write_bytes(data)
    assert refusal(crowded) == f"zip bomb suspected: {entries} entries (limit 10000)"


def test_package_with_a_huge_zip_directory(tmp_path: Path, docx_file: Path) -> None:
    """Few entries, but long names: zipfile would load the whole directory to count them."""
    crowded = crowded_package(tmp_path / "crowded.docx", docx_file, 2_000, name_bytes=2_000)
    reason = refusal(crowded)
    assert re.fullmatch(r"zip bomb suspected: zip directory of 4\.\d MB \(limit 2\.6 MB\)", reason)


def test_package_compressed_other_than_office_does(tmp_path: Path, docx_file: Path) -> None:
    """zipfile inflates bzip2 without bounding a read's output, so it is refused outright."""
    odd = tmp_path / "odd.docx"
    with zipfile.ZipFile(docx_file) as source, zipfile.ZipFile(odd, "w") as target:
        for entry in source.infolist():
            method = zipfile.ZIP_BZIP2 if entry.filename == "word/document.xml" else None
            target.writestr(entry.filename, source.read(entry), compress_type=method)
    assert refusal(odd) == (
        "malformed DOCX: word/document.xml uses compression method 12 (Office uses deflate)"
    )


def test_normal_office_files_still_parse(docx_file: Path, pptx_file: Path) -> None:
    assert parse_file(docx_file).text == "A normal paragraph."
    assert parse_file(pptx_file).units[0].provenance.slide == 1


# --- PDF page counts ----------------------------------------------------------------------


def write_pdf(path: Path, objects: list[bytes]) -> Path:
    """A PDF of ``objects``, numbered from 1 (the catalog), with an exact xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(out)
    return path


def page_tree_pdf(path: Path, outer: int, inner: int, declared: int) -> Path:
    """``outer`` x ``inner`` pages in a few kilobytes: the root lists one /Pages node
    ``outer`` times, which lists one blank page ``inner`` times. The root declares
    ``declared`` pages."""
    return write_pdf(
        path,
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join([b"3 0 R"] * outer), declared),
            b"<< /Type /Pages /Parent 2 0 R /Kids [%s] /Count %d >>"
            % (b" ".join([b"4 0 R"] * inner), inner),
            b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] >>",
        ],
    )


def test_pdf_declaring_100000_pages(tmp_path: Path) -> None:
    pdf = page_tree_pdf(tmp_path / "huge.pdf", 100, 1000, declared=100_000)
    assert pdf.stat().st_size < 20_000
    assert refusal(pdf) == "too many pages: 100000 (limit 5000)"


def test_pdf_hiding_100000_pages_behind_a_small_count(tmp_path: Path) -> None:
    pdf = page_tree_pdf(tmp_path / "liar.pdf", 100, 1000, declared=1)
    reason = refusal(pdf)
    assert reason.startswith("too many pages: page tree too large (")
    assert reason.endswith("(limit 5000)")


def test_pdf_with_a_few_pages_more_than_its_count(tmp_path: Path) -> None:
    pdf = page_tree_pdf(tmp_path / "liar.pdf", 3, 4, declared=1)
    assert refusal(pdf, ParseLimits(max_pdf_pages=10)) == "too many pages: 12 (limit 10)"


def test_pdf_at_and_over_a_configured_limit(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "three.pdf", ["One", "Two", "Three"])
    assert refusal(pdf, ParseLimits(max_pdf_pages=2)) == "too many pages: 3 (limit 2)"
    assert len(parse_file(pdf, ParseLimits(max_pdf_pages=3)).units) == 3
    assert parse_file(pdf).text == "One\n\nTwo\n\nThree"


def test_encrypted_pdf_is_counted_once_decrypted(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "protected.pdf", ["One", "Two"], owner_password="owner")
    assert refusal(pdf, ParseLimits(max_pdf_pages=1)) == "too many pages: 2 (limit 1)"
    locked = make_pdf(tmp_path / "locked.pdf", ["One", "Two"], password="user")
    assert refusal(locked, ParseLimits(max_pdf_pages=1)) == "encrypted (needs a password)"


# --- limits from settings -----------------------------------------------------------------


def test_default_limits_are_the_settings_defaults() -> None:
    fields = Settings.model_fields
    defaults = ParseLimits(fields["max_unzipped_bytes"].default, fields["max_pdf_pages"].default)
    assert defaults == DEFAULT_LIMITS


def test_ingest_parses_within_the_settings_limits(settings_for, encoder, tmp_path: Path) -> None:
    kb = KnowledgeBase(settings_for("limits", max_pdf_pages=2), encoder)
    make_pdf(tmp_path / "three.pdf", ["One", "Two", "Three"])
    report = Ingestor(kb).run([tmp_path])
    assert [(Path(f.path).name, f.reason) for f in report.failed] == [
        ("three.pdf", "too many pages: 3 (limit 2)")
    ]


# --- type by content ----------------------------------------------------------------------


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def write(path: Path, content: bytes | str) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


SRT = "1\n00:00:01,000 --> 00:00:02,000\nHello.\n"


def test_sniff_accepts_each_type(tmp_path: Path, docx_file: Path, pptx_file: Path) -> None:
    pdf = make_pdf(tmp_path / "a.pdf", ["Text"])
    text = "Grüße – notes\n"
    utf16 = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    vtt = "\ufeffWEBVTT\n\n00:01.000 --> 00:02.000\nHi.\n"
    cases = {
        (pdf, "Report.PDF"): ".pdf",
        (docx_file, "report.docx"): ".docx",
        (pptx_file, "deck.pptx"): ".pptx",
        (write(tmp_path / "a.md", "# Title\n"), "notes.md"): ".md",
        (write(tmp_path / "b.md", "# Title\n"), "notes.markdown"): ".md",
        (write(tmp_path / "a.txt", text), "../../etc/notes.txt"): ".txt",
        (write(tmp_path / "b.txt", utf16), "windows.txt"): ".txt",
        (write(tmp_path / "c.txt", text.encode("cp1252")), "legacy.txt"): ".txt",
        (write(tmp_path / "a.vtt", vtt), "talk.vtt"): ".vtt",
        (write(tmp_path / "a.srt", SRT), "talk.srt"): ".srt",
        (write(tmp_path / "b.srt", vtt), "vtt-inside.srt"): ".srt",
    }
    assert {name: sniff(path, name) for (path, name) in cases} == {
        name: suffix for (_, name), suffix in cases.items()
    }


def test_sniff_accepts_an_encrypted_office_file(tmp_path: Path) -> None:
    encrypted = write(tmp_path / "upload", OLE_MAGIC + bytes(1024))
    assert sniff(encrypted, "secret.docx") == ".docx"
    assert sniff(encrypted, "secret.pptx") == ".pptx"


def sniff_refusal(path: Path, name: str) -> str:
    with pytest.raises(UnsupportedType) as caught:
        sniff(path, name)
    return str(caught.value)


def test_sniff_names_what_a_misnamed_file_is(tmp_path: Path, docx_file: Path) -> None:
    png = write(tmp_path / "upload", png_bytes())
    assert sniff_refusal(png, "scan.pdf") == "content is PNG (image/png), not a PDF"
    pdf = make_pdf(tmp_path / "a.pdf", ["Text"])
    assert sniff_refusal(pdf, "report.docx") == "content is PDF (application/pdf), not a DOCX"
    assert sniff_refusal(png, "notes.txt") == "content is PNG (image/png), not text"
    assert sniff_refusal(docx_file, "deck.pptx").startswith("content is DOCX (")


def test_sniff_refuses_content_that_is_not_its_type(tmp_path: Path, docx_file: Path) -> None:
    plain_zip = tmp_path / "upload.zip"
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert sniff_refusal(plain_zip, "deck.pptx") == (
        "content is not a PPTX: a zip archive without [Content_Types].xml or ppt/presentation.xml"
    )
    junk = write(tmp_path / "junk", random.Random(7).randbytes(4096))
    assert sniff_refusal(junk, "notes.txt") == (
        "content is not text: it holds NUL bytes, so it is binary"
    )
    text = write(tmp_path / "text", "Just a paragraph.\n")
    assert sniff_refusal(text, "report.pdf") == "content is not a PDF: it does not start with %PDF-"
    assert sniff_refusal(text, "report.docx") == "content is not a DOCX: it is not a zip archive"
    srt = write(tmp_path / "srt", SRT)
    assert sniff_refusal(srt, "talk.vtt") == (
        "content is not a WebVTT file: it does not start with WEBVTT"
    )
    crowded = crowded_package(tmp_path / "crowded", docx_file, 2_000, name_bytes=2_000)
    assert re.fullmatch(
        r"content is not a DOCX: zip bomb suspected: zip directory of 4\.\d MB \(limit 2\.6 MB\)",
        sniff_refusal(crowded, "report.docx"),
    )
    utf16 = write(tmp_path / "utf16", "No byte order mark".encode("utf-16-le"))
    assert sniff_refusal(utf16, "notes.txt") == (
        "content is not text: it holds NUL bytes, so it is binary"
    )


def test_sniff_refuses_unsupported_names(tmp_path: Path) -> None:
    upload = write(tmp_path / "upload", "data")
    supported = ".docx, .markdown, .md, .pdf, .pptx, .srt, .txt, .vtt"
    assert sniff_refusal(upload, "sheet.xlsx") == (
        f"unsupported file type: .xlsx (supported: {supported})"
    )
    assert sniff_refusal(upload, "README") == (
        f"no file type: 'README' has no suffix (supported: {supported})"
    )
    assert issubclass(UnsupportedType, ValueError)


def test_sniff_knows_every_parsed_type() -> None:
    assert set(CHECKS) == SUPPORTED_SUFFIXES
