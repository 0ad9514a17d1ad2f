#!/usr/bin/env python3
"""Does a BEIR test set of the embedded corpus reward matching the query's style?

The embedded corpus has five sources that differ in writing style; a training
pair's query and positive share one. If the test set's relevant passages share
the query's style while the documents competing with them do not, a model can
rank well by style alone: random batches teach that (their negatives differ in
style), source and cluster batches cannot. This script measures it per query,
for any number of TREC runs on the set:

  share      the share of the non-relevant documents in each query's top 10
             that have the query's style (split into same-topic and
             other-topic documents), averaged over queries;
  style+     NDCG@10 after moving every document of the query's style ahead
             of every other document (order kept within each group): what a
             perfect style detector adds to the ranking. A set that does not
             reward style gives style+ = NDCG@10 on every query;
  gain>0     how many queries style+ improves;
  topic+     the same with the query's topic instead of its style: where style
             helps only as far as it tells the topic, style+ <= topic+.

Styles and topics come from the documents' "metadata" (written by `strata
synth`); for sets written before the metadata existed, a document's style is
recognized from the template words of its source (STYLE_WORDS below).

Usage: style_shortcut.py BEIR_DIR RUN.trec [RUN.trec ...]
"""
import json
import math
import os
import sys
from collections import defaultdict

# words that occur in one source's templates only (src/data/synth_styles.h, and
# the longer passage templates of test sets written before 2026-11-29):
# passage sentences, then query templates
STYLE_WORDS = {
    "forum_qa": {"hope", "helps", "experience", "basically", "question", "answer", "how", "affect"},
    "paper_titles": {"propose", "novel", "paper", "outperforms", "baselines", "implications", "study"},
    "search_logs": {"guide", "click", "tips", "reviews", "updated", "page"},
    "claims": {"evidence", "trial", "indicate", "observed", "association", "significant", "increases"},
    "news_headlines": {"officials", "tuesday", "reporters", "statement", "analysts", "says", "rises"},
}


def style_of(text):
    words = set(text.lower().replace(",", " ").replace(".", " ").split())
    best, hits = None, 0
    for s, ws in STYLE_WORDS.items():
        h = len(words & ws)
        if h > hits:
            best, hits = s, h
    return best


def read_jsonl(path):
    out = {}
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            md = o.get("metadata") or {}
            out[o["_id"]] = (md.get("source") or style_of(o["text"]), md.get("topic"))
    return out


def read_qrels(path):
    q = defaultdict(dict)
    with open(path) as f:
        next(f)
        for line in f:
            a, b, s = line.split("\t")
            q[a][b] = int(s)
    return q


def read_run(path):
    r = defaultdict(list)
    with open(path) as f:
        for line in f:
            qid, _, did, _, score = line.split()[:5]
            r[qid].append((float(score), did))
    for qid in r:  # trec_eval order: score descending, then doc id descending
        r[qid].sort(key=lambda x: (-x[0], tuple(-ord(c) for c in x[1])))
        r[qid] = [d for _, d in r[qid]]
    return r


def ndcg10(ranked, rel):
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(rel.values(), reverse=True)
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal[:10]))
    return dcg / idcg if idcg > 0 else 0.0


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    beir = sys.argv[1]
    docs = read_jsonl(os.path.join(beir, "corpus.jsonl"))
    queries = read_jsonl(os.path.join(beir, "queries.jsonl"))
    qrels = read_qrels(os.path.join(beir, "qrels", "test.tsv"))
    rel_same = sum(docs[d][0] == queries[q][0] for q in qrels for d in qrels[q])
    rel_all = sum(len(v) for v in qrels.values())
    print(f"{beir}: {len(queries)} queries, {len(docs)} documents; "
          f"judged documents in the query's style: {rel_same}/{rel_all}")
    if all(t is not None for _, t in docs.values()):
        same_topic = same_topic_style = 0
        for q in qrels:
            qs, qt = queries[q]
            for d, (ds, dt) in docs.items():
                if dt == qt and d not in qrels[q]:
                    same_topic += 1
                    same_topic_style += ds == qs
        print(f"non-relevant same-topic documents in the query's style: "
              f"{same_topic_style}/{same_topic} ({100.0 * same_topic_style / max(1, same_topic):.1f}%)")
    print(f"{'run':40s} {'ndcg@10':>8s} {'style+':>8s} {'gain>0':>7s} {'topic+':>8s} {'share':>7s} "
          f"{'same-topic':>10s} {'other-topic':>11s}")
    for path in sys.argv[2:]:
        run = read_run(path)
        nd = nd_style = nd_topic = 0.0
        gains = 0
        share_n = share_d = st_n = st_d = ot_n = ot_d = 0
        for q, rel in qrels.items():
            ranked = run.get(q, [])
            qs, qt = queries[q]
            a = ndcg10(ranked, rel)
            styled = [d for d in ranked if docs[d][0] == qs] + [d for d in ranked if docs[d][0] != qs]
            b = ndcg10(styled, rel)
            if qt is not None:
                topical = [d for d in ranked if docs[d][1] == qt] + [d for d in ranked if docs[d][1] != qt]
                nd_topic += ndcg10(topical, rel)
            nd += a
            nd_style += b
            gains += b > a + 1e-12
            for d in ranked[:10]:
                if rel.get(d, 0) > 0:
                    continue
                same = docs[d][0] == qs
                share_n += same
                share_d += 1
                if docs[d][1] is not None and docs[d][1] == qt:
                    st_n += same
                    st_d += 1
                elif docs[d][1] is not None:
                    ot_n += same
                    ot_d += 1
        n = len(qrels)
        pct = lambda x, y: f"{100.0 * x / y:.1f}%" if y else "-"
        topic = f"{nd_topic / n:8.4f}" if nd_topic else f"{'-':>8s}"
        print(f"{os.path.relpath(path)[-40:]:40s} {nd / n:8.4f} {nd_style / n:8.4f} {gains:7d} {topic} "
              f"{pct(share_n, share_d):>7s} {pct(st_n, st_d):>10s} {pct(ot_n, ot_d):>11s}")


if __name__ == "__main__":
    main()
