"""What watches cost a publish: matching its new chunks against 1,000 watches, against the
whole ingest.

    python -m bench.watch_matching [--watches 1000] [--threshold 0.86] [--folder corpus/]
        [--json-out FILE]

1. ingests ``--folder``'s first half as Paris, then makes ``--watches`` watches from its
   passages (each stored passage in turn, as a chunk watch, at ``--threshold``);
2. ingests the second half as Boston, the time spent in ``match_new_chunks`` (the only work a
   watch adds to a publish) measured inside it;
3. prints that time, the whole ingest's, their ratio, the alerts made (and how many a higher
   threshold would have kept) and the load average.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import search.writer
from bench.common import CORPUS, emit, load_average, log, scratch_knowledge_base
from search.watching import WatchRequest


def halves(folder: Path, into: Path) -> tuple[Path, Path]:
    """``folder``'s files split in two folders under ``into``, alternately."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".yaml")
    paris, boston = into / "paris", into / "boston"
    for n, path in enumerate(files):
        target = (paris if n % 2 == 0 else boston) / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return paris, boston


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=CORPUS)
    parser.add_argument("--watches", type=int, default=1000)
    parser.add_argument("--threshold", type=float, default=0.86,
                        help="the watches' threshold: the lowest of those reported")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    from ingest.pipeline import Ingestor

    workdir = Path(tempfile.mkdtemp(prefix="bridge-bench-watches-"))
    paris, boston = halves(args.folder, workdir)
    kb = scratch_knowledge_base(workdir / "data")
    Ingestor(kb, {"office": "Paris"}).run([paris])
    chunk_ids = [c.id for d in kb.documents(limit=10_000)[0] for c in kb.document(d.id)[1]]
    for n in range(args.watches):
        kb.watcher.add(WatchRequest(owner="bench", chunk_id=chunk_ids[n % len(chunk_ids)],
                                    threshold=args.threshold))
    log(f"{args.watches} watches on {len(chunk_ids)} Paris passages")

    matching = []
    match = search.writer.match_new_chunks

    def timed(*given, **named) -> int:
        started = time.perf_counter()
        made = match(*given, **named)
        matching.append(time.perf_counter() - started)
        return made

    search.writer.match_new_chunks = timed  # the one call a publish makes for watches
    started = time.perf_counter()
    report = Ingestor(kb, {"office": "Boston"}).run([boston])
    ingest_s = time.perf_counter() - started
    similarities = [a.similarity for w in kb.watcher.watches()
                    for a, _, _ in kb.watcher.alerts(w.id, limit=10_000)]
    alerts = {f"alerts_at_{t}": sum(s >= t for s in similarities)
              for t in sorted({args.threshold, 0.86, 0.88, 0.9, 0.92}) if t >= args.threshold}
    emit({"watches": args.watches, "new_chunks": report.chunks_indexed,
          "publishes": len(matching), "matching_s": round(sum(matching), 3),
          "ingest_s": round(ingest_s, 1),
          "matching_share": round(sum(matching) / ingest_s, 4), **alerts,
          "load_average": load_average()}, args.json_out)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
