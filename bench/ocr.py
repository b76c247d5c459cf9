"""OCR's cost: pages per second, and its share of an ingest with and without it.

    python -m bench.ocr [FOLDER] [--scan-pages N]   (default: ../shared/data/documents)

1. reads a synthetic scan (``--scan-pages`` A4 pages of text, as pictures only, made with
   Pillow) through ``parse_file``: OCR pages per second at the configured resolution;
2. ingests FOLDER into a fresh data directory with ``ocr = auto``, then into another with
   ``ocr = off``: files indexed and failed by kind, chunks per second, and the time OCR
   took as a share of the whole ingest.

Run it alone on the machine (one benchmark at a time) and quote the load average it prints.
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from bench.common import REPO, emit, load_average, scratch_knowledge_base
from ingest.parsers import parse_file
from ingest.pipeline import Ingestor
from search.records import RunReport

DEFAULT_FOLDER = REPO.parent / "shared" / "data" / "documents"
A4_AT_300_DPI = (2480, 3508)
PARAGRAPH = ("Remote monitoring of heart failure patients reduced readmissions when nurses "
             "called within a day of a weight alert. The pilot enrolled 420 patients across "
             "three hospitals; adherence to daily weighing stayed above eighty percent. ")


def scan_pdf(path: Path, pages: int) -> Path:
    """A PDF of ``pages`` pictures of typed text at 300 dpi, without a text layer."""
    font = ImageFont.load_default(size=42)
    lines = textwrap.wrap(PARAGRAPH * 9, width=90)
    images = []
    for _ in range(pages):
        image = Image.new("L", A4_AT_300_DPI, "white")
        draw = ImageDraw.Draw(image)
        for i, line in enumerate(lines):
            draw.text((200, 250 + 62 * i), line, font=font, fill="black")
        images.append(image)
    images[0].save(path, save_all=True, append_images=images[1:], resolution=300)
    return path


def ocr_rate(pages: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = scan_pdf(Path(folder) / "scan.pdf", pages)
        started = time.perf_counter()
        parsed = parse_file(path)
        seconds = time.perf_counter() - started
    words = sum(len(unit.text.split()) for unit in parsed.units)
    return {"pages": pages, "words_read": words, "seconds": round(seconds, 2),
            "pages_per_s": round(pages / seconds, 3),
            "tesseract_seconds": round(parsed.ocr.seconds, 2)}


def ingest(folder: Path, ocr: str) -> dict[str, Any]:
    kb = scratch_knowledge_base(ocr=ocr)
    kb.encoder.encode_documents(["warm-up"])
    report: RunReport = Ingestor(kb).run([folder])
    return {
        "ocr": ocr,
        "files_indexed": len(report.added) + len(report.duplicates),
        "files_failed_by_kind": {kind: len(paths)
                                 for kind, paths in report.failures_by_kind.items()},
        "chunks": report.chunks_indexed,
        "seconds": report.seconds,
        "chunks_per_s": round(report.chunks_per_second, 2),
        "ocr_images": report.ocr_images,
        "ocr_seconds": report.ocr_seconds,
        "ocr_share_of_ingest": round(report.ocr_seconds / report.seconds, 3)
        if report.seconds else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--scan-pages", type=int, default=10)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    result = {
        "load_average_before": load_average(),
        "ocr_of_a_scan": ocr_rate(args.scan_pages),
        "ingest_with_ocr": ingest(args.folder, "auto"),
        "ingest_without_ocr": ingest(args.folder, "off"),
        "load_average_after": load_average(),
    }
    emit(result, args.json_out)


if __name__ == "__main__":
    main()
