#!/usr/bin/env python3
"""Independent references for tests/test_plan.c (numpy / PyTorch).

  plan_ref.py mask PLAN_DIR Q.npy D.npy RULE VALUE
      Recomputes the false-negative mask by brute force in float64 numpy
      (RULE margin: s_ij >= s_ii - VALUE; RULE threshold: s_ij >= VALUE),
      compares it bit for bit with PLAN_DIR/mask.npy (unpacked with
      np.unpackbits(bitorder='little')), ignoring only near-ties
      (|s_ij - thr| < 1e-5: float32 sgemm vs float64 may round either way).
      Prints "ok bits=<set> ties=<n>" or the first mismatch and exits 1.

  plan_ref.py loader PLAN_DIR N
      Loads the plan with numpy and feeds it to torch.utils.data.DataLoader
      as batch_sampler (pads dropped); checks every yielded batch against the
      rows of batches.npy, that the mask (when present) has a zero diagonal
      and no bits on pads. Prints "ok batches=<n>".

  plan_ref.py hardness PLAN_DIR Q.npy D.npy TAU CSV USE_MASK
      Recomputes per-batch loss with torch.nn.functional.cross_entropy
      (float64, masked logits = -inf), top-1 and mean off-diagonal similarity,
      and compares with the CSV written by `strata hardness --csv`.
      Tolerances: similarities 2e-6 (CSV has 6 decimals; strata's sgemm is
      float32, error ~1e-7 per cosine); loss 5e-4, because a float32 cosine
      error is multiplied by 1/tau (= 50 at tau 0.02) in every logit; top1
      exact except on near-ties. Prints "ok".
"""
import json
import os
import sys

import numpy as np


def load_plan(d):
    with open(os.path.join(d, "plan.json")) as f:
        meta = json.load(f)
    b = np.load(os.path.join(d, "batches.npy"))
    mp = os.path.join(d, "mask.npy")
    m = None
    if os.path.exists(mp):
        packed = np.load(mp)
        B = b.shape[1]
        m = np.unpackbits(packed, axis=-1, bitorder="little")[..., :B].astype(bool)
    return meta, b, m


def cos_rows(x):
    x = x.astype(np.float64)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    n[n == 0] = 1
    return x / n


def cmd_mask(d, qp, dp, rule, value):
    _, b, m = load_plan(d)
    if m is None:
        print("no mask.npy")
        return 1
    q, e = cos_rows(np.load(qp)), cos_rows(np.load(dp))
    value = float(value)
    ties = 0
    for k in range(b.shape[0]):
        idx = b[k]
        valid = idx >= 0
        ii = np.where(valid, idx, 0)
        s = q[ii] @ e[ii].T
        thr = (np.diag(s) - value)[:, None] if rule == "margin" else np.full((len(idx), 1), value)
        want = s >= thr
        want &= valid[:, None] & valid[None, :]
        np.fill_diagonal(want, False)
        near = np.abs(s - thr) < 1e-5
        diff = (want != m[k]) & ~near
        ties += int((near & valid[:, None] & valid[None, :]).sum())
        if diff.any():
            i, j = np.argwhere(diff)[0]
            print(f"mismatch batch {k} row {i} col {j}: want {want[i, j]} got {m[k, i, j]} "
                  f"s={s[i, j]:.8f} thr={thr[i, 0]:.8f}")
            return 1
    print(f"ok bits={int(m.sum())} ties={ties}")
    return 0


def cmd_loader(d, n):
    import torch
    from torch.utils.data import DataLoader, Dataset

    n = int(n)
    meta, b, m = load_plan(d)

    class Pairs(Dataset):
        def __len__(self):
            return n

        def __getitem__(self, i):
            return i

    sampler = [[int(x) for x in row if x >= 0] for row in b]
    loader = DataLoader(Pairs(), batch_sampler=sampler)
    count = 0
    for k, batch in enumerate(loader):
        got = batch.tolist()
        want = [int(x) for x in b[k] if x >= 0]
        if got != want:
            print(f"batch {k}: loader gave {got[:5]}... want {want[:5]}...")
            return 1
        count += 1
    if count != b.shape[0] or meta["n_batches"] != b.shape[0]:
        print(f"loader yielded {count} batches, plan has {b.shape[0]}")
        return 1
    if m is not None:
        if m.shape != (b.shape[0], b.shape[1], b.shape[1]):
            print(f"mask shape {m.shape}")
            return 1
        if m[:, np.arange(b.shape[1]), np.arange(b.shape[1])].any():
            print("mask has a diagonal bit")
            return 1
        pad = b < 0
        if (m & pad[:, None, :]).any() or (m & pad[:, :, None]).any():
            print("mask has bits on pads")
            return 1
        # the mask as the trainer applies it: logits.masked_fill(mask, -inf)
        t = torch.tensor(m[0].tolist(), dtype=torch.bool)
        logits = torch.zeros(t.shape, dtype=torch.float64).masked_fill(t, float("-inf"))
        if not torch.isfinite(logits.diagonal()).all():
            print("diagonal masked")
            return 1
    print(f"ok batches={count}")
    return 0


def cmd_hardness(d, qp, dp, tau, csv, use_mask):
    import torch
    import torch.nn.functional as F

    tau = float(tau)
    use_mask = use_mask == "1"
    _, b, m = load_plan(d)
    q, e = cos_rows(np.load(qp)), cos_rows(np.load(dp))
    rows = np.genfromtxt(csv, delimiter=",", names=True)
    rows = np.atleast_1d(rows)
    worst = 0.0
    for r in rows:
        k = int(r["batch"])
        idx = b[k][b[k] >= 0]
        if len(idx) < 2:
            continue
        s = q[idx] @ e[idx].T
        st = torch.tensor(s.tolist(), dtype=torch.float64)
        logits = st / tau
        n = len(idx)
        if use_mask and m is not None:
            sel = np.where(b[k] >= 0)[0]
            mk = torch.tensor(m[k][np.ix_(sel, sel)].tolist(), dtype=torch.bool)
            logits = logits.masked_fill(mk, float("-inf"))
            neg = st.masked_fill(mk | torch.eye(n, dtype=torch.bool), float("-inf"))
        else:
            neg = st.masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
        loss = F.cross_entropy(logits, torch.arange(n)).item()
        negmax = neg.max(dim=1).values
        top1 = ((st.diagonal() > negmax) | torch.isinf(negmax)).double().mean().item()
        off = st.masked_select(~torch.eye(n, dtype=torch.bool))
        for name, want in (("loss", loss), ("top1", top1), ("mean_offdiag_sim", off.mean().item()),
                           ("max_offdiag_sim", off.max().item())):
            err = abs(float(r[name]) - want)
            tol = 5e-4 if name == "loss" else (1.0 / n + 1e-9 if name == "top1" else 2e-6)
            if name != "top1":
                worst = max(worst, err)
            if err > tol:
                print(f"batch {k} {name}: csv {float(r[name])} torch {want}")
                return 1
    print(f"ok worst={worst:.2e}")
    return 0


def main():
    a = sys.argv[1:]
    if a[0] == "mask":
        return cmd_mask(*a[1:6])
    if a[0] == "loader":
        return cmd_loader(*a[1:3])
    if a[0] == "hardness":
        return cmd_hardness(*a[1:7])
    print("unknown mode")
    return 2


if __name__ == "__main__":
    sys.exit(main())
