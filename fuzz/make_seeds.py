#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer targets (fuzz/seeds/fuzz_<name>/).

Run from the repository root: python3 fuzz/make_seeds.py. Binary .npy seeds
are written by numpy (a writer no one here wrote); multi-file inputs are cut
into parts by a line "=====" (FUZZ_SEP in fuzz/fuzz_common.h). regress_*
files are inputs that once failed (tests/test_fuzz_regress.c holds a test
for each): the smallest form of each is written here; regress_*_found files
are the fuzzers' own crash files, kept as found. The older seeds of
fuzz_jsonl, fuzz_npy and fuzz_safetensors were written by hand and are left
alone.
"""
import io
import json
import os
import struct

import numpy as np

SEP = b"\n=====\n"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy(a):
    b = io.BytesIO()
    np.save(b, a, allow_pickle=False)
    return b.getvalue()


def jl(*objs):
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs).encode()


# ---------------------------------------------------------------- BEIR
corpus = jl({"_id": "d1", "title": "Alpha", "text": "alpha beta"},
            {"_id": "d2", "title": None, "text": "gamma"},
            {"_id": 3, "text": "delta épsilon 中文"})
queries = jl({"_id": "q1", "text": "alpha?"}, {"_id": "q2", "text": "gamma"})
qrels = b"query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\t3\t2\nq2\td2\t0\n"
put("fuzz_beir", "good", corpus + SEP + queries + SEP + qrels)
put("fuzz_beir", "no_qrels", corpus + SEP + queries)
put("fuzz_beir", "trec_qrels", corpus + SEP + queries + SEP + b"q1 0 d1 1\nq2 0 d2 1\n")
put("fuzz_beir", "dup_id", corpus + jl({"_id": "d1", "text": "again"}) + SEP + queries)
put("fuzz_beir", "blank_and_bad", b"\n" + corpus + b"{\"_id\": \"x\"}\n" + SEP + queries)
put("fuzz_beir", "unknown_doc", corpus + SEP + queries + SEP + b"q1\tzz\t1\n")
put("fuzz_beir", "bad_score", corpus + SEP + queries + SEP + b"q1\td1\t1.5\n")
put("fuzz_beir", "dup_judgment", corpus + SEP + queries + SEP + b"q1\td1\t1\nq1\td1\t2\n")

# ---------------------------------------------------------------- qrels
put("fuzz_qrels", "beir_error", b"\x00query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\t10\t2\n")
put("fuzz_qrels", "trec_skip", b"\x01q1 0 d1 1\nq9 0 d2 1\n3 Q0 d 5 1\n")
put("fuzz_qrels", "add", b"\x02q1\td1\t1\nnewq\tnewd\t3\n3\td 5\t-1\n")
put("fuzz_qrels", "spaces", b"\x00 q1 \t d2 \t 1 \n\n")
put("fuzz_qrels", "too_many", b"\x00q1\td1\t1\textra\tmore\n")
put("fuzz_qrels", "dup", b"\x01q1\td1\t1\nq1\td1\t0\n")
put("fuzz_qrels", "empty", b"\x00query-id\tcorpus-id\tscore\n")

# ---------------------------------------------------------------- TREC runs
run = b"q1 Q0 d1 1 2.5 strata\nq1 Q0 d3 2 1.25 strata\nq2 Q0 10 1 0.5 strata\n3 Q0 d5 1 -1 x\n"
put("fuzz_trec_run", "good", b"\x00" + run)
put("fuzz_trec_run", "skip_add", b"\x05" + run + b"q9 Q0 d1 1 1 x\nq1 Q0 new 3 0.1 x\n")
put("fuzz_trec_run", "ties", b"\x08q1 Q0 d1 1 1 r\nq1 Q0 d2 2 1 r\nq1 Q0 d3 3 1 r\n")
put("fuzz_trec_run", "nan", b"\x00q1 Q0 d1 1 nan r\n")
put("fuzz_trec_run", "five_cols", b"\x00q1 Q0 d1 1 3e2\n")
put("fuzz_trec_run", "dup_doc", b"\x00q1 Q0 d1 1 1 r\nq1 Q0 d1 2 0.5 r\n")
put("fuzz_trec_run", "tabs", b"\x02q1\tQ0\td2\t1\t0.75\trun\r\n")

# ---------------------------------------------------------------- vocab.txt
vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nrun\n##ning\n##s\nal\n##pha\n中\n.\n,\n"
put("fuzz_vocab", "uncased", vocab)
put("fuzz_vocab", "cased_config", vocab + "Hello\n" + SEP.decode() +
    json.dumps({"do_lower_case": False, "strip_accents": None, "tokenize_chinese_chars": True}))
put("fuzz_vocab", "crlf", vocab.replace("\n", "\r\n"))
put("fuzz_vocab", "no_cls", "[PAD]\n[UNK]\n[SEP]\nx\n")
put("fuzz_vocab", "bad_utf8", b"[UNK]\n[CLS]\n[SEP]\n\xff\xfe\n")
put("fuzz_vocab", "config_lower", vocab + SEP.decode() + '{"do_lower_case": true}')
put("fuzz_vocab", "no_newline", "[UNK]\n[CLS]\n[SEP]")

# ---------------------------------------------------------------- tokenizer.json
def tj(vocab, **kw):
    d = {"version": "1.0",
         "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                        "strip_accents": None, "lowercase": True},
         "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                   "max_input_chars_per_word": 100, "vocab": vocab}}
    d.update(kw)
    return json.dumps(d, ensure_ascii=False)


v = {t: i for i, t in enumerate(vocab.split("\n")[:-1])}
put("fuzz_tokenizer_json", "good", tj(v))
put("fuzz_tokenizer_json", "cased", tj(v, normalizer={"type": "BertNormalizer", "lowercase": False,
                                                       "strip_accents": False, "clean_text": False}))
put("fuzz_tokenizer_json", "gaps", tj({"[UNK]": 0, "[CLS]": 5, "[SEP]": 9, "x": 3}))
put("fuzz_tokenizer_json", "bpe", json.dumps({"model": {"type": "BPE", "vocab": {"a": 0}}}))
put("fuzz_tokenizer_json", "unk_custom", json.dumps(
    {"model": {"unk_token": "<unk>", "vocab": {"<unk>": 0, "[CLS]": 1, "[SEP]": 2, "b": 3},
               "max_input_chars_per_word": 2}}))
put("fuzz_tokenizer_json", "bad_id", json.dumps({"model": {"vocab": {"[UNK]": -1}}}))

# ---------------------------------------------------------------- config.json
cfg = {"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
       "intermediate_size": 1536, "max_position_embeddings": 512, "type_vocab_size": 2,
       "layer_norm_eps": 1e-12, "model_type": "bert", "hidden_act": "gelu",
       "position_embedding_type": "absolute", "architectures": ["BertModel"]}
put("fuzz_bert_config", "minilm", json.dumps(cfg, indent=2))
put("fuzz_bert_config", "minimal", json.dumps({k: cfg[k] for k in list(cfg)[:6]}))
put("fuzz_bert_config", "not_multiple", json.dumps(dict(cfg, num_attention_heads=5)))
put("fuzz_bert_config", "roberta", json.dumps(dict(cfg, model_type="roberta")))
put("fuzz_bert_config", "float_size", json.dumps(dict(cfg, hidden_size=384.5)))
put("fuzz_bert_config", "eps_zero", json.dumps(dict(cfg, layer_norm_eps=0)))
put("fuzz_bert_config", "relu", json.dumps(dict(cfg, hidden_act="relu")))
put("fuzz_bert_config", "array", "[1, 2, 3]")

# ---------------------------------------------------------------- pooling / modules.json
def pool(**kw):
    d = {"word_embedding_dimension": 8, "pooling_mode_cls_token": False,
         "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
         "pooling_mode_mean_sqrt_len_tokens": False}
    d.update(kw)
    return json.dumps(d, indent=2)


modules = json.dumps([
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
    indent=2)
put("fuzz_st_config", "mean_normalize", pool() + SEP.decode() + modules)
put("fuzz_st_config", "cls", pool(pooling_mode_cls_token=True, pooling_mode_mean_tokens=False))
put("fuzz_st_config", "both", pool(pooling_mode_cls_token=True))
put("fuzz_st_config", "max", pool(pooling_mode_max_tokens=True))
put("fuzz_st_config", "modules_object", pool() + SEP.decode() + '{"type": "Normalize"}')
put("fuzz_st_config", "bad_json", "{\"pooling_mode_cls_token\": tru" + SEP.decode() + "[")

# ---------------------------------------------------------------- plan folder
def plan_json(nb, B, **kw):
    d = {"format": "strata-plan", "version": 1, "n_pairs": 10, "n_batches": nb, "batch_size": B,
         "batches": "batches.npy", "mask": "mask.npy", "n_masked": 1, "n_offdiag": 10,
         "batch_source": [0] * nb, "batch_cluster": [-1] * nb, "batch_nclusters": [1] * nb,
         "batch_stage": [0] * nb, "batch_epoch": [0] * nb}
    d.update(kw)
    return json.dumps(d).encode()


bt = np.array([[0, 1, 2, 3], [4, 5, 6, -1], [7, 8, 9, 0]], dtype=np.int64)
mask = np.zeros((3, 4, 1), dtype=np.uint8)
mask[0, 0, 0] = 0x06
put("fuzz_plan", "good", plan_json(3, 4) + SEP + npy(bt) + SEP + npy(mask))
put("fuzz_plan", "no_mask", plan_json(3, 4, mask=None) + SEP + npy(bt))
put("fuzz_plan", "mask_shape", plan_json(3, 4) + SEP + npy(bt) + SEP + npy(mask[:2]))
put("fuzz_plan", "out_of_range", plan_json(1, 2) + SEP + npy(np.array([[0, 10]], np.int64)))
put("fuzz_plan", "int32", plan_json(3, 4) + SEP + npy(bt.astype(np.int32)))
put("fuzz_plan", "disagree", plan_json(2, 4) + SEP + npy(bt))
put("fuzz_plan", "empty_batch", plan_json(1, 3) + SEP + npy(np.full((1, 3), -1, np.int64)))
put("fuzz_plan", "bad_array", plan_json(3, 4, batch_source=[0, 1.5, 2]) + SEP + npy(bt))
put("fuzz_plan", "wide", plan_json(1, 9, n_pairs=0) + SEP + npy(np.arange(9, dtype=np.int64)[None]) +
    SEP + npy(np.full((1, 9, 2), 0xff, np.uint8)))

# ---------------------------------------------------------------- trainer_state.json
state = {"step": 1, "plan_position": 1, "n_batches": 2, "total_steps": 1,
         "rng_state": ["123", "456", "789", "18446744073709551615"], "pool": "mean",
         "args": {"pairs": "pairs.jsonl", "plan": "plan", "init": "model", "tau": 0.02,
                  "symmetric": False, "max_len": 8, "lr": 2e-5, "warmup": 0,
                  "weight_decay": 0.01, "clip": 1, "chunk": 0, "steps": 1, "save_every": 1,
                  "seed": 1}}
put("fuzz_train_state", "typical", json.dumps(state, indent=2))
put("fuzz_train_state", "step_mismatch", json.dumps(dict(state, step=7)))
put("fuzz_train_state", "rng_numbers", json.dumps(dict(state, rng_state=[1, 2, 3, 4])))
put("fuzz_train_state", "rng_short", json.dumps(dict(state, rng_state=["1"])))
put("fuzz_train_state", "no_args", json.dumps({k: v for k, v in state.items() if k != "args"}))
put("fuzz_train_state", "pool_cls", json.dumps(dict(state, pool="cls")))
put("fuzz_train_state", "huge", json.dumps(dict(state, step=1e300, total_steps=-5)))
put("fuzz_train_state", "truncated", json.dumps(state)[:40])

# ---------------------------------------------------------------- IDF table
N = 2 + (1 << 20)
hdr = "{'descr': '<i8', 'fortran_order': False, 'shape': (%d,), }" % N
hdr = hdr + " " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + "\n"
put("fuzz_idf", "good", hdr.encode() + SEP + struct.pack("<5q", 5, 0, 1, 5, 2) + SEP +
    struct.pack("<Iq", 1000, 3) + struct.pack("<Iq", N - 1, 5))
put("fuzz_idf", "bigrams", hdr.encode() + SEP + struct.pack("<2q", 100, 1))
put("fuzz_idf", "df_over_n", hdr.encode() + SEP + struct.pack("<3q", 1, 0, 2))
put("fuzz_idf", "bad_flag", hdr.encode() + SEP + struct.pack("<2q", 1, 2))
put("fuzz_idf", "negative_n", hdr.encode() + SEP + struct.pack("<2q", -1, 0))
put("fuzz_idf", "int32", hdr.replace("<i8", "<i4").encode() + SEP + struct.pack("<2q", 1, 0))
put("fuzz_idf", "short_shape", hdr.replace(str(N), "10").encode() + SEP + struct.pack("<2q", 1, 0))
bare = "{'descr': '<i8', 'fortran_order': False, 'shape': (%d,), }\n" % N
bare = bare if (10 + len(bare)) % 8 else bare[:-1] + " \n"  # data offset not 8-aligned
put("fuzz_idf", "unaligned", bare.encode() + SEP + struct.pack("<3q", 9, 0, 4))
put("fuzz_idf", "raw_small", npy(np.arange(4, dtype=np.int64)))

# ---------------------------------------------------------------- tokenize lines
put("fuzz_tokenize", "strings", jl("alpha beta", "Running runs.", "中文", ""))
put("fuzz_tokenize", "objects", jl({"text": "red green"}, {"text": "blue", "id": 3}))
put("fuzz_tokenize", "no_text", jl({"body": "x"}))
put("fuzz_tokenize", "number", b"42\n")
put("fuzz_tokenize", "bad_json", b"\"unterminated\n")
put("fuzz_tokenize", "crlf", b"\"alpha\"\r\n\"beta\"\r\n")
put("fuzz_tokenize", "escapes", b"\"tab\\there \\u00e9 \\ud83d\\ude00\"\n")
put("fuzz_tokenize", "bad_utf8", b"\"\xc3\x28\"\n")

# ---------------------------------------------------------------- cluster folder
a32 = np.array([0, 1, 1, 2, 0], np.int32)
cent = np.array([[1, 0], [0, 1], [0.6, 0.8]], np.float32)
put("fuzz_clusters", "good", npy(a32) + SEP + npy(cent))
put("fuzz_clusters", "int64_col", npy(a32.astype(np.int64)[:, None]))
put("fuzz_clusters", "f16", npy(a32) + SEP + npy(cent.astype(np.float16)))
put("fuzz_clusters", "few_centroids", npy(a32) + SEP + npy(cent[:2]))
put("fuzz_clusters", "negative", npy(np.array([0, -1], np.int32)))
put("fuzz_clusters", "nan", npy(a32) + SEP + npy(np.full((3, 2), np.nan, np.float32)))
put("fuzz_clusters", "float_assign", npy(a32.astype(np.float32)))

# ---------------------------------------------------------------- regressions
# Inputs that once failed (tests/test_fuzz_regress.c has one test for each).
def unpadded_npy(descr, shape, raw):
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }\n" % (descr, shape)
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + raw


put("fuzz_npy", "regress_unaligned_f32.npy",
    unpadded_npy("<f4", "(3,)", struct.pack("<3f", 1.5, -2.0, 3.25)))
put("fuzz_npy", "regress_unaligned_i64.npy",
    unpadded_npy("<i8", "(1, 2)", struct.pack("<2q", -1, 1 << 40)))
put("fuzz_tokenizer_json", "regress_bad_id_uaf",
    '{"model": {"vocab": {"[UNK]": 0, "some_token": -1}}}')
put("fuzz_tokenizer_json", "regress_type_uaf", '{"model": {"type": "UnigramLM", "vocab": {"a": 0}}}')
put("fuzz_tokenizer_json", "regress_huge_id",
    '{"model": {"vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 100000000}}}')
put("fuzz_tokenizer_json", "regress_empty_unk",
    '{"model": {"unk_token": "\\u0000[UNK]", "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, '
    '"a": 3}}}')
put("fuzz_vocab", "regress_empty_text", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n")
put("fuzz_vocab", "regress_bad_config", "[UNK]\n[CLS]\n[SEP]\nhello\n" + SEP.decode() +
    '{"do_lower_case": fals')
put("fuzz_idf", "regress_df_over_n", hdr.encode() + SEP + struct.pack("<2q", 5, 0) + SEP +
    struct.pack("<Iq", 5, 7))
put("fuzz_plan", "regress_huge_n_pairs", plan_json(3, 4, n_pairs=1e300) + SEP + npy(bt))
put("fuzz_plan", "regress_huge_batch_size", plan_json(3, 4, batch_size=-1e300) + SEP + npy(bt))
put("fuzz_plan", "regress_negative_n_pairs", plan_json(3, 4, n_pairs=-3) + SEP + npy(bt))
for i, h in enumerate(['{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 1e30]}}',
                       '{"a": {"dtype": "F32", "shape": [1e300], "data_offsets": [0, 4]}}']):
    put("fuzz_safetensors", "regress_huge_number_%d.safetensors" % i,
        struct.pack("<Q", len(h)) + h.encode() + b"\0" * 4)
