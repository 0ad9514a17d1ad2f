#!/usr/bin/env python3
"""PyTorch CPU training step equivalent to bench/train_step.c: the same BERT
(tests/ref/train_ref.py, Hugging Face BertModel semantics), the same batch
(N pairs -> 2N sequences of T tokens), InfoNCE tau 0.02, backward, clipping,
AdamW with decoupled decay. usage: train_torch.py L C H F N T THREADS STEPS [MODE]
MODE: fp32 (default) or bf16 (torch.autocast("cpu", torch.bfloat16) around the
forward and the loss: bf16 matrix products, fp32 weights and AdamW, the
mixed-precision recipe PyTorch documents for CPUs)."""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "ref"))
from train_ref import Bert, infonce  # noqa: E402


def main():
    L, C, H, F, N, T, threads, steps = map(int, sys.argv[1:9])
    mode = sys.argv[9] if len(sys.argv) > 9 else "fp32"
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    V, P = 30522, 512
    W = {"embeddings.word_embeddings.weight": torch.randn(V, C) * 0.02,
         "embeddings.position_embeddings.weight": torch.randn(P, C) * 0.02,
         "embeddings.token_type_embeddings.weight": torch.randn(2, C) * 0.02,
         "embeddings.LayerNorm.weight": torch.ones(C),
         "embeddings.LayerNorm.bias": torch.zeros(C)}
    for l in range(L):
        p = "encoder.layer.%d." % l
        for nm in ("attention.self.query", "attention.self.key", "attention.self.value",
                   "attention.output.dense"):
            W[p + nm + ".weight"] = torch.randn(C, C) * 0.02
            W[p + nm + ".bias"] = torch.zeros(C)
        W[p + "intermediate.dense.weight"] = torch.randn(F, C) * 0.02
        W[p + "intermediate.dense.bias"] = torch.zeros(F)
        W[p + "output.dense.weight"] = torch.randn(C, F) * 0.02
        W[p + "output.dense.bias"] = torch.zeros(C)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            W[p + ln + ".weight"] = torch.ones(C)
            W[p + ln + ".bias"] = torch.zeros(C)
    model = Bert(W, L, H, 1e-12)
    decay, no_decay = [], []
    for k, prm in model.p.items():
        (no_decay if (k.endswith("bias") or "LayerNorm" in k) else decay).append(prm)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=1e-5)
    ids = torch.randint(1000, 21000, (2 * N, T))
    lens = torch.full((2 * N,), T, dtype=torch.long)
    mask = torch.zeros(N, N, dtype=torch.bool)
    total = ctotal = 0.0
    for s in range(steps + 2):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        if mode == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                e, _ = model(ids, lens, "mean")
                loss = infonce(e.float(), N, mask, 0.02, False)
        else:
            e, _ = model(ids, lens, "mean")
            loss = infonce(e, N, mask, 0.02, False)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if s >= 2:
            total += dt
            ctotal += dc
    step_s = total / steps
    tok = 2.0 * N * T
    flops = 3.0 * tok * L * (2.0 * (4.0 * C * C + 2.0 * C * F) + 4.0 * T * C)
    print(json.dumps({"impl": "torch %s %s" % (torch.__version__, mode), "L": L, "C": C, "H": H, "F": F,
                      "pairs": N, "T": T, "threads": threads, "step_ms": round(1e3 * step_s, 2),
                      "step_cpu_ms": round(1e3 * ctotal / steps, 2),
                      "gflops": round(flops / step_s / 1e9, 2)}))


if __name__ == "__main__":
    main()
