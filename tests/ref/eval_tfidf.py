#!/usr/bin/env python3
"""eval_tfidf.py — small hashed TF-IDF embeddings of a BEIR set, written as
float32 .npy, so tests have realistic runs to score without a trained model.

usage: eval_tfidf.py BEIR_DIR OUT_DIR [DIM]
writes OUT_DIR/C.npy [corpus, DIM], OUT_DIR/Q.npy [queries, DIM] (rows in
file order, L2-normalized) and C.ids.txt / Q.ids.txt.
Any embedding gives a valid run; this one gives non-trivial metrics and, with
a small DIM, some exactly tied scores.
"""
import json, re, sys, zlib
import numpy as np

def read(path, title):
    ids, texts = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            o = json.loads(line)
            t = o.get("text") or ""
            if title and o.get("title"):
                t = o["title"] + " " + t
            ids.append(str(o["_id"]))
            texts.append(t)
    return ids, texts

def tokens(t):
    return re.findall(r"[a-z0-9]+", t.lower())

def main():
    d, out = sys.argv[1], sys.argv[2]
    dim = int(sys.argv[3]) if len(sys.argv) > 3 else 256
    cids, ctexts = read(d + "/corpus.jsonl", True)
    qids, qtexts = read(d + "/queries.jsonl", False)
    df = {}
    ctoks = [tokens(t) for t in ctexts]
    for toks in ctoks:
        for w in set(toks):
            df[w] = df.get(w, 0) + 1
    n = len(ctexts)

    def embed(toks_list):
        X = np.zeros((len(toks_list), dim), dtype=np.float64)
        for i, toks in enumerate(toks_list):
            for w in toks:
                h = zlib.crc32(w.encode())
                idf = np.log((n + 1) / (df.get(w, 0) + 1)) + 1.0
                X[i, h % dim] += idf if (h >> 16) & 1 else -idf
        nrm = np.linalg.norm(X, axis=1, keepdims=True)
        nrm[nrm == 0] = 1
        return (X / nrm).astype(np.float32)

    np.save(out + "/C.npy", embed(ctoks))
    np.save(out + "/Q.npy", embed([tokens(t) for t in qtexts]))
    open(out + "/C.ids.txt", "w").write("".join(i + "\n" for i in cids))
    open(out + "/Q.ids.txt", "w").write("".join(i + "\n" for i in qids))

main()
