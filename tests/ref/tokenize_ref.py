#!/usr/bin/env python3
"""Reference token ids from Hugging Face `tokenizers` (PyPI).

usage: tokenize_ref.py TOKENIZER_JSON INPUT_JSONL OUTPUT [--no-special]

INPUT_JSONL: one JSON string (or object with "text") per line. OUTPUT gets
one JSON array of ids per line, with truncation and padding turned off, so
the ids are the full encoding (with [CLS]/[SEP] unless --no-special).
"""
import json
import sys

from tokenizers import Tokenizer


def main():
    tj, inp, out = sys.argv[1:4]
    special = "--no-special" not in sys.argv[4:]
    tok = Tokenizer.from_file(tj)
    tok.no_truncation()
    tok.no_padding()
    texts = []
    with open(inp, encoding="utf-8") as f:
        for line in f:
            v = json.loads(line)
            texts.append(v["text"] if isinstance(v, dict) else v)
    encs = tok.encode_batch(texts, add_special_tokens=special)
    with open(out, "w") as f:
        for e in encs:
            f.write("[" + ",".join(str(i) for i in e.ids) + "]\n")


if __name__ == "__main__":
    main()
