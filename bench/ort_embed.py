#!/usr/bin/env python3
"""ONNX Runtime side of bench/bench_precision.sh: embeds texts with an ONNX
export of the model (bench/onnx_export.py), the batches Strata forms
(chunks of 8192 texts, longest first, ties by input index, BATCH texts per
batch padded to the longest), Hugging Face `tokenizers` truncating to
MAX_LEN tokens. The time covers tokenization, batching and session.run, as
Strata's covers strata_bert_embed_texts. intra_op threads = THREADS,
inter_op 1, all graph optimizations (as fastembed sets them).

usage: ort_embed.py MODEL_DIR MODEL.onnx TEXTS.jsonl MAX_LEN BATCH THREADS OUT.npy
prints: texts/s, seconds, cpu_seconds (process CPU time of the loop), ort
version, execution provider."""
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def main():
    model_dir, onnx_path, texts_path = sys.argv[1:4]
    max_len, bs, threads = map(int, sys.argv[4:7])
    out_path = sys.argv[7]
    texts = [json.loads(l) for l in open(texts_path)]
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # no spinning in the thread pool: CPU time then measures work (the
    # benchmark compares CPU seconds on a shared machine)
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=max_len)
    out = None
    t0, c0 = time.perf_counter(), time.process_time()
    for c0 in range(0, len(texts), 8192):
        chunk = texts[c0:c0 + 8192]
        enc = tok.encode_batch(chunk)
        ids = [e.ids for e in enc]
        order = sorted(range(len(ids)), key=lambda i: (-len(ids[i]), i))
        for b0 in range(0, len(order), bs):
            sel = order[b0:b0 + bs]
            T = len(ids[sel[0]])
            a = np.zeros((len(sel), T), dtype=np.int64)
            m = np.zeros((len(sel), T), dtype=np.int64)
            for r, i in enumerate(sel):
                a[r, :len(ids[i])] = ids[i]
                m[r, :len(ids[i])] = 1
            e = sess.run(None, {"input_ids": a, "attention_mask": m})[0]
            if out is None:
                out = np.zeros((len(texts), e.shape[1]), dtype=np.float32)
            out[[c0 + i for i in sel]] = e
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    np.save(out_path, out)
    print("texts/s %.2f" % (len(texts) / dt))
    print("seconds %.4f" % dt)
    print("cpu_seconds %.4f" % dc)
    print("onnxruntime %s %s" % (ort.__version__, sess.get_providers()[0]))


if __name__ == "__main__":
    main()
