"""Reference for tests/test_st_roundtrip.c: sentence-transformers itself.

usage: st_roundtrip.py MODEL_DIR TEXTS.jsonl OUT_DIR [PROMPT...]

Loads MODEL_DIR with sentence_transformers.SentenceTransformer (CPU, fp32),
encodes the "query" field of every line of TEXTS.jsonl once per PROMPT and
writes OUT_DIR/st_<i>.npy (float32 [N, D]). A PROMPT is "none" (no prompt:
the model's default_prompt_name applies, as in encode()), "name:NAME"
(encode(prompt_name=NAME)) or "text:TEXT" (encode(prompt=TEXT)). Prints one
JSON line describing the loaded model: max_seq_length, the tokenizer's
model_max_length, whether a Normalize module is present, the pooling mode,
include_prompt, the prompts, default_prompt_name, similarity_fn_name and the
token count of each text (untruncated).
"""
import json
import os
import sys

import numpy as np
import torch
from sentence_transformers import SentenceTransformer


def main():
    model_dir, texts_path, out_dir = sys.argv[1:4]
    prompts = sys.argv[4:] or ["none"]
    torch.set_num_threads(2)
    m = SentenceTransformer(model_dir, device="cpu")
    with open(texts_path, encoding="utf-8") as f:
        texts = [json.loads(line)["query"] for line in f if line.strip()]
    for i, p in enumerate(prompts):
        kw = {}
        if p.startswith("name:"):
            kw["prompt_name"] = p[5:]
        elif p.startswith("text:"):
            kw["prompt"] = p[5:]
        elif p != "none":
            raise SystemExit("bad PROMPT " + p)
        e = m.encode(texts, batch_size=8, convert_to_numpy=True, **kw)
        np.save(os.path.join(out_dir, "st_%d.npy" % i), e.astype(np.float32))
    pool = [x for x in m if type(x).__name__ == "Pooling"][0]
    info = {
        "max_seq_length": m.max_seq_length,
        "model_max_length": m.tokenizer.model_max_length,
        "normalize": any(type(x).__name__ == "Normalize" for x in m),
        "pooling": pool.get_pooling_mode_str(),
        "include_prompt": pool.include_prompt,
        "prompts": m.prompts,
        "default_prompt_name": m.default_prompt_name,
        "similarity_fn_name": m.similarity_fn_name,
        "tokens": [len(m.tokenizer(t)["input_ids"]) for t in texts],
    }
    print(json.dumps(info, sort_keys=True))


if __name__ == "__main__":
    main()
