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
- **latency**: what the intent and retrieval skills cost per turn before and after, interleaved
  text by text in one process (`bench/text_turn.py` measures the whole chat turn over HTTP).

The suggestions and latency parts use the demo tenant as `lambdesk demo` builds it in
`LAMBDESK_DATA_DIR`.
"""

from __future__ import annotations

import argparse
import csv
import itertools
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
sys.path.insert(0, str(ROOT / "bench"))

from core.policy import MAX_ANSWER_CHARS, trim_passage  # noqa: E402
from infra.local.filesystem_blob_store import FilesystemBlobStore  # noqa: E402
from knowledge.index import FUSION, KnowledgeIndex, rebuild_index  # noqa: E402
from knowledge.ingest import parse_document  # noqa: E402
from skills.encoder import embed  # noqa: E402

DATA = ROOT / "bench" / "data"
FUSIONS = ("dense", "dense+units", "weighted-lexical", "rrf", "weighted")
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
        for fusion in FUSIONS:
            ranked = [
                ranked_docs(index, v, q, fusion) for v, q in zip(vectors, questions, strict=True)
            ]
            hit1, mrr = hit_and_mrr(ranked, expected)
            say(f"demo_faq_{fusion}_hit_at_1", hit1)
            say(f"demo_faq_{fusion}_mrr_at_5", mrr)
        # the reply: does it hold the expected phrase, and how long is it? Before: the dense
        # ranking's best chunk from its first lines; after: the fused ranking's best chunk, its
        # selected answer.
        for name, fusion, select in (("before", "dense", False), ("after", FUSION, True)):
            found = chars = sections = 0
            for row, vector, question in zip(rows, vectors, questions, strict=True):
                hit = index.search(vector, top_k=1, query=question, fusion=fusion, select=select)
                reply = trim_passage(hit[0]["answer"] or hit[0]["text"], MAX_ANSWER_CHARS)
                found += row["answer"].lower() in reply.lower()
                chars += len(reply)
                sections += hit[0]["heading"].split(" › ")[-1] == row["section"]
            say(f"demo_faq_section_hit_at_1_{name}", sections / len(rows))
            say(f"demo_faq_answer_holds_phrase_{name}", found / len(rows))
            say(f"demo_faq_answer_chars_{name}", round(chars / len(rows), 1))

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
        for fusion in FUSIONS:
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
        import zaragoza_construction_faq
    except ImportError:
        return None
    path = Path(zaragoza_construction_faq.__file__).parent / "data" / "faq-en.jsonl"
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# --------------------------------------------------------------------------- dialogue acts


def classify_acts(texts: Sequence[str]) -> list[tuple[str, bool]]:
    """(answered act or "none", whether a request part was found) per text, as the intent skill
    and the policy see it: a small-talk-only message is answered with its main act."""
    from core.dialogue_acts import main_act
    from skills.intent.acts import get_act_model, split_message

    model = get_act_model()
    assert model is not None, "the dialogue-act head is missing: python -m training.dialogue_acts"
    out = []
    for text, vector in zip(texts, embed(list(texts), progress=len(texts) > 500), strict=True):
        split, _ = split_message(text, vector, model=model, embed=embed)
        acts = [a for a, _ in split.acts]
        answered = main_act(acts) if split.request is None and acts else "none"
        out.append((answered or "none", split.request is not None and bool(acts)))
    return out


def bench_acts() -> None:
    with (DATA / "dialogue_acts_test.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    truth = [r["act"] for r in rows]
    found = classify_acts([r["text"] for r in rows])
    say("acts_test_rows", len(rows))
    say("acts_accuracy_before", sum(t == "none" for t in truth) / len(rows))
    say(
        "acts_accuracy_after",
        sum(f == t for (f, _), t in zip(found, truth, strict=True)) / len(rows),
    )
    acts_only = [(f, t) for (f, _), t in zip(found, truth, strict=True) if t != "none"]
    say("acts_recall_after", sum(f == t for f, t in acts_only) / len(acts_only))
    requests = [(f, t) for (f, _), t in zip(found, truth, strict=True) if t == "none"]
    say("acts_requests_kept_after", sum(f == "none" for f, _ in requests) / len(requests))
    mixed = [m for (f, m), t in zip(found, truth, strict=True) if t == "none"]
    say("acts_mixed_messages_split", sum(mixed))
    with (ROOT / "demo" / "banking77" / "test.csv").open(newline="", encoding="utf-8") as handle:
        sentences = [r["text"] for r in csv.DictReader(handle)]
    taken = [
        t for t, (f, _) in zip(sentences, classify_acts(sentences), strict=True) if f != "none"
    ]
    say("banking77_test_sentences", len(sentences))
    say("banking77_false_positive_rate_before", 0.0)
    say("banking77_false_positive_rate_after", len(taken) / len(sentences))
    for text in taken[:10]:
        print(f"  taken for small talk: {text!r}")


# --------------------------------------------------------------------------- suggestions


def old_suggestions(tenant: Any, intent: Any, hits: Sequence[Any], decision: Any) -> list[str]:
    """The suggestions as the policy made them before: the intent model's next-best intents
    with a response (any confidence), else the other hits' titles."""
    from core.models import Source
    from core.policy import humanize

    ranking = sorted(intent.ranking, key=lambda r: r.confidence, reverse=True) if intent else []
    by_intent = [
        humanize(r.intent)
        for r in ranking
        if r.intent in tenant.responses
        and (decision.source is not Source.INTENT or r.intent != decision.intent)
    ]
    titles = []
    for hit in hits[1:] if decision.source is Source.KNOWLEDGE else hits:
        if hit.title and hit.title not in titles:
            titles.append(hit.title)
    if decision.source is Source.KNOWLEDGE:
        return titles[:3]
    return by_intent[:3] or titles[:3]


def bench_suggestions() -> None:
    from datetime import date

    from sessions import build_sessions

    from core.bootstrap import build_skill_context
    from core.models import SessionState, Tenant
    from core.policy import decide, humanize
    from core.skill_contracts import Hit, IntentResult
    from core.suggestions import TopicStats, turn_topic_counts
    from skills.intent.skill import understand
    from skills.retrieval.skill import run as search

    ctx = build_skill_context()
    if ctx.blobs.find(tenant_id="demo-bank", key="models/intent/CURRENT") is None:
        say("suggestions", "skipped (build the demo tenant first: lambdesk demo)")
        return
    import yaml

    responses = yaml.safe_load((ROOT / "demo" / "responses.yaml").read_text())
    tenant = Tenant(tenant_id="demo-bank", responses=responses)
    train, held = build_sessions(1500)
    counts: dict[str, int] = {}
    for session in train:
        for before, after in itertools.pairwise(session):
            for key, value in turn_topic_counts(
                previous=humanize(before["intent"]), topic=humanize(after["intent"]), clicked=None
            ).items():
                counts[key] = counts.get(key, 0) + value
    stats = TopicStats.from_counts({date(2026, 1, 1): counts})
    say("suggestion_train_sessions", len(train))
    say("suggestion_heldout_sessions", len(held))
    pairs = [(a, b) for s in held for a, b in itertools.pairwise(s)]
    say("suggestion_heldout_transitions", len(pairs))
    hits_by = {"before": 0, "neighbours": 0, "cooccurrence": 0}
    state = SessionState(tenant_id="demo-bank", session_id="s_bench")
    for turn, following in pairs:
        text = turn["text"]
        intent = IntentResult.model_validate(
            understand(tenant_id="demo-bank", text=text, blobs=ctx.blobs)
        )
        found = search({"tenant_id": "demo-bank", "query": text, "top_k": 3}, ctx)["hits"]
        hits = [Hit.model_validate(h) for h in found]
        wanted = humanize(following["intent"]).casefold()
        for name, table in (("neighbours", None), ("cooccurrence", stats)):
            decision = decide(
                tenant=tenant, state=state, text=text, intent_result=intent, hits=hits, stats=table
            )
            hits_by[name] += wanted in [x.casefold() for x in decision.suggestions[:3]]
        old = old_suggestions(tenant, intent, hits, decision)
        hits_by["before"] += wanted in [x.casefold() for x in old]
    for name, count in hits_by.items():
        say(f"suggestion_hit_rate_at_3_{name}", count / len(pairs))


# --------------------------------------------------------------------------- skill cost per turn


def bench_latency(n: int = 400) -> None:
    """What the skills cost per turn before and after, interleaved text by text in one process
    (the machine's noise hits both alike): the intent skill without and with the dialogue acts,
    retrieval dense-only without answer selection and fused with it. The encoder's pass is shared
    by both skills of a turn (memoised), so it is paid before the clock starts, as in a turn."""
    import statistics

    from core.bootstrap import build_skill_context
    from skills.intent.skill import classify, understand
    from skills.retrieval.skill import _indexes

    ctx = build_skill_context()
    index = _indexes.current(tenant_id="demo-bank", blobs=ctx.blobs)
    if index is None:
        say("latency", "skipped (build the demo tenant first: lambdesk demo)")
        return
    with (ROOT / "demo" / "banking77" / "test.csv").open(newline="", encoding="utf-8") as handle:
        texts = [r["text"] for r in csv.DictReader(handle)][:n]
    timings: dict[str, list[float]] = {k: [] for k in ("intent", "acts", "dense", "fused")}
    embed(["warm up"])
    for text in texts:
        vector = embed([text])[0]
        for name in timings:
            started = time.perf_counter()
            if name == "intent":
                classify(tenant_id="demo-bank", texts=[text], blobs=ctx.blobs)
            elif name == "acts":
                understand(tenant_id="demo-bank", text=text, blobs=ctx.blobs)
            elif name == "dense":
                index.search(vector, top_k=3, fusion="dense", select=False)
            else:
                index.search(vector, top_k=3, query=text)
            timings[name].append((time.perf_counter() - started) * 1000)

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    say("latency_turns", len(texts))
    for before, after, what in (("intent", "acts", "intent_skill"), ("dense", "fused", "search")):
        for q in (50, 99):
            say(f"{what}_p{q}_ms_before", round(pct(timings[before], q), 3))
            say(f"{what}_p{q}_ms_after", round(pct(timings[after], q), 3))
        say(
            f"{what}_median_added_ms",
            round(statistics.median(timings[after]) - statistics.median(timings[before]), 3),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="acts,retrieval,suggestions,latency")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    if "acts" in wanted:
        bench_acts()
    if "retrieval" in wanted:
        bench_retrieval()
    if "suggestions" in wanted:
        bench_suggestions()
    if "latency" in wanted:
        bench_latency()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
