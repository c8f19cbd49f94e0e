"""Conversation benchmark: dialogue acts, retrieval and suggestions, before and after, in one run.

    .venv/bin/python bench/conversation.py [--only acts,retrieval,suggestions]

Prints one figure per line, each "before" beside its "after" measured in the same run:

- **acts**: dialogue-act accuracy on `bench/data/dialogue_acts_test.csv` (phrasings written apart
  from the training file), the share of BANKING77 *test* sentences taken for small talk (real
  requests answered with an act's response; target ≤ 0.5 %), and the mixed messages answered for
  their request. Before: no act model (every small-talk message reaches the tenant's intents).
- **retrieval**: hit@1 (the expected page first) and MRR@5 on two sets: the demo bank's help pages
  with `bench/data/demo_bank_faq.csv` (paraphrased questions, each with its expected page, section
  and a phrase the answer must hold), and the public Swedish Construction FAQ (Zaragoza AB,
  CC BY 4.0, from the `zaragoza-construction-faq` package: its English answers indexed as
  documents, its questions as queries). Dense only (before) against dense+BM25 fused (after), and
  on the demo set the answer-phrase rate with the chunk's first lines (before) against the
  selected answer (after).
- **suggestions**: hit rate@3 of the next question on held-out sessions (`bench/sessions.py`
  builds them from the demo tenant's data): the old suggestions (the intent model's next-best
  intents), semantic neighbours only, and co-occurrence counted from the training sessions with
  neighbours as the fallback.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.policy import MAX_ANSWER_CHARS, trim_passage  # noqa: E402
from infra.local.filesystem_blob_store import FilesystemBlobStore  # noqa: E402
from knowledge.index import KnowledgeIndex, rebuild_index  # noqa: E402
from knowledge.ingest import parse_document  # noqa: E402
from skills.encoder import embed  # noqa: E402

DATA = ROOT / "bench" / "data"
TENANT = "bench-kb"


def say(name: str, value: float | int | str) -> None:
    if isinstance(value, float):
        print(f"{name}={value:.4f}", flush=True)
    else:
        print(f"{name}={value}", flush=True)


# --------------------------------------------------------------------------- knowledge helpers


CACHE = ROOT / ".bench" / "conversation"


def build_index(root: Path, documents: Sequence[tuple[str, str, bytes]]) -> KnowledgeIndex:
    """Index `(doc_id, filename, bytes)` documents in a blob store under `.bench/` (reused while
    the documents and the indexing code are unchanged)."""
    import hashlib
    import inspect

    from knowledge import passages

    digest = hashlib.sha256((ROOT / "knowledge" / "chunking.py").read_bytes())
    for part in (passages.units, passages.unit_embedding_text, passages._table):
        digest.update(inspect.getsource(part).encode())
    for doc_id, filename, data in documents:
        digest.update(f"{doc_id}\0{filename}\0".encode() + data)
    root = CACHE / f"{root.name}-{digest.hexdigest()[:16]}"
    blobs = FilesystemBlobStore(root=root)
    from knowledge.index import IndexCache

    cached = IndexCache().current(tenant_id=TENANT, blobs=blobs)
    if cached is not None:
        return cached
    for doc_id, filename, data in documents:
        parsed = parse_document(filename=filename, content_type=None, data=data)
        record = {"doc_id": doc_id, "title": parsed.title, "filename": filename}
        record["text"] = parsed.text
        blobs.put(
            tenant_id=TENANT,
            key=f"knowledge/docs/{doc_id}.json",
            data=json.dumps(record).encode(),
            content_type="application/json",
        )
    return rebuild_index(
        tenant_id=TENANT, blobs=blobs, embed=lambda t: embed(t, progress=len(t) > 200)
    )


def demo_index(root: Path) -> KnowledgeIndex:
    pages = sorted((ROOT / "demo" / "knowledge").glob("*.md"))
    return build_index(root, [(p.stem, p.name, p.read_bytes()) for p in pages])


def ranked_docs(index: KnowledgeIndex, vector: np.ndarray, query: str, fusion: str) -> list[str]:
    order, _, _ = index.rank(vector, query, fusion=fusion)
    docs: list[str] = []
    for i in order:
        doc = index.rows[int(i)]["doc_id"]
        if doc not in docs:
            docs.append(doc)
        if len(docs) == 5:
            break
    return docs


def hit_and_mrr(ranked: list[list[str]], expected: list[set[str]]) -> tuple[float, float]:
    hits = [1.0 if r and r[0] in e else 0.0 for r, e in zip(ranked, expected, strict=True)]
    rr = []
    for r, e in zip(ranked, expected, strict=True):
        rank = next((i + 1 for i, d in enumerate(r[:5]) if d in e), None)
        rr.append(1.0 / rank if rank else 0.0)
    return float(np.mean(hits)), float(np.mean(rr))


# --------------------------------------------------------------------------- retrieval


def bench_retrieval() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        index = demo_index(Path(tmp) / "demo")
        say("demo_index_chunks", len(index.rows))
        say("demo_index_s", round(time.perf_counter() - started, 1))
        with (DATA / "demo_bank_faq.csv").open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        questions = [r["question"] for r in rows]
        expected = [set(r["pages"].split("|")) for r in rows]
        vectors = embed(questions)
        say("demo_faq_questions", len(rows))
        for fusion in ("dense", "weighted", "rrf"):
            ranked = [
                ranked_docs(index, v, q, fusion) for v, q in zip(vectors, questions, strict=True)
            ]
            hit1, mrr = hit_and_mrr(ranked, expected)
            say(f"demo_faq_{fusion}_hit_at_1", hit1)
            say(f"demo_faq_{fusion}_mrr_at_5", mrr)
        # answer selection: does the reply hold the expected phrase?
        for select in (False, True):
            found = 0
            for row, vector, question in zip(rows, vectors, questions, strict=True):
                hit = index.search(vector, top_k=1, query=question, select=select)[0]
                reply = trim_passage(hit["answer"] or hit["text"], MAX_ANSWER_CHARS)
                found += row["answer"].lower() in reply.lower()
            name = "selected" if select else "first_lines"
            say(f"demo_faq_answer_phrase_{name}", found / len(rows))
        section_hits = 0
        for row, vector, question in zip(rows, vectors, questions, strict=True):
            hit = index.search(vector, top_k=1, query=question)[0]
            section_hits += hit["heading"].split(" › ")[-1] == row["section"]
        say("demo_faq_section_hit_at_1", section_hits / len(rows))

        public = public_faq()
        if public is None:
            say("public_faq", "skipped (pip install zaragoza-construction-faq)")
            return
        docs = [(r["id"], f"{r['id']}.txt", r["a"].encode()) for r in public]
        started = time.perf_counter()
        index = build_index(Path(tmp) / "public", docs)
        say("public_faq_documents", len(docs))
        say("public_faq_index_s", round(time.perf_counter() - started, 1))
        questions = [r["q"] for r in public]
        vectors = embed(questions, progress=True)
        for fusion in ("dense", "weighted", "rrf"):
            ranked = [
                ranked_docs(index, v, q, fusion) for v, q in zip(vectors, questions, strict=True)
            ]
            hit1, mrr = hit_and_mrr(ranked, [{r["id"]} for r in public])
            say(f"public_faq_{fusion}_hit_at_1", hit1)
            say(f"public_faq_{fusion}_mrr_at_5", mrr)
        started = time.perf_counter()
        for v, q in zip(vectors[:200], questions[:200], strict=True):
            index.search(v, top_k=3, query=q)
        say("public_faq_search_ms", round((time.perf_counter() - started) * 1000 / 200, 3))


def public_faq() -> list[dict[str, Any]] | None:
    try:
        import zaragoza_construction_faq  # type: ignore[import-not-found]
    except ImportError:
        return None
    path = Path(zaragoza_construction_faq.__file__).parent / "data" / "faq-en.jsonl"
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="acts,retrieval,suggestions")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    if "retrieval" in wanted:
        bench_retrieval()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
