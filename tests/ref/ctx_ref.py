#!/usr/bin/env python3
"""PyTorch reference for Strata's contextual model (tests/test_contextual*.c).

CDE's two-stage model (Morris & Rush 2024, section 4.2) written here in torch
from the paper and the issue, not from Strata's C code:

  stage 1  BERT M1 over J context documents -> mean over real tokens ->
           Linear(C,C) -> GELU -> Linear(C,C) -> E [J, C]
  prompt   Linear(C,C) -> ReLU -> Linear(C, S*C) applied to ones(C) -> [S, C]
  stage 2  BERT M2 over inputs_embeds = [E_j (or v_null where dropped) |
           prompt | word_emb(ids) + pos_emb(0..T-1) + type_emb(0)], the
           prefix without position or token type; embedding LayerNorm on
           every position; attention over the prefix and the real tokens;
           mean over the real TEXT positions -> Linear -> ReLU -> Linear
           (+ pooled when output_residual) -> L2 normalize.
  loss     InfoNCE q -> d with the false-negative mask (train_ref.infonce).

Usage:
  ctx_ref.py check DIR          autograd vs the C dumps in DIR (exit 1 on any
                                tensor outside its tolerance)
  ctx_ref.py embed MODEL_DIR CTX_IDS CTX_LENS IDS LENS OUT_E OUT_EMB
                                load a saved folder and embed: E from the
                                context documents (CTX_IDS = "null": v_null in
                                every slot, J from the config), then the texts
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_ref import Bert, infonce, npy_load, npy_save_f32, st_load, unpack_mask  # noqa: E402

torch.set_num_threads(1)

S1 = "first_stage_model.embedder."
S2 = "second_stage_model.backbone."


def strip(W, prefix):
    return {k[len(prefix):]: v for k, v in W.items() if k.startswith(prefix)}


def encode(bert, x, mask):
    """BERT from an embedding sum x [B, T, C] (embedding LayerNorm on)."""
    B, T, C = x.shape
    hs = C // bert.H
    x = bert.ln(x, "embeddings.LayerNorm")
    ext = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
    for l in range(bert.L):
        p = "encoder.layer.%d." % l
        split = lambda t: t.view(B, T, bert.H, hs).permute(0, 2, 1, 3)
        q = split(bert.lin(x, p + "attention.self.query"))
        k = split(bert.lin(x, p + "attention.self.key"))
        v = split(bert.lin(x, p + "attention.self.value"))
        a = torch.softmax(q @ k.transpose(-1, -2) / (hs ** 0.5) + ext, dim=-1)
        y = (a @ v).permute(0, 2, 1, 3).reshape(B, T, C)
        x = bert.ln(bert.lin(y, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        f = torch.nn.functional.gelu(bert.lin(x, p + "intermediate.dense"))
        x = bert.ln(bert.lin(f, p + "output.dense") + x, p + "output.LayerNorm")
    return x


class Contextual(torch.nn.Module):
    def __init__(self, W, L, H, eps, S, ctx_positions=False, residual=False):
        super().__init__()
        self.m1 = Bert(strip(W, S1), L, H, eps)
        self.m2 = Bert(strip(W, S2), L, H, eps)
        heads = {k: v for k, v in W.items() if not (k.startswith(S1) or k.startswith(S2))}
        self.h = torch.nn.ParameterDict(
            {k.replace(".", "__"): torch.nn.Parameter(v.clone()) for k, v in heads.items()})
        self.S, self.ctx_positions, self.residual = S, ctx_positions, residual

    def hw(self, name):
        return self.h[name.replace(".", "__")]

    def lin(self, x, pre):
        return torch.nn.functional.linear(x, self.hw(pre + ".weight"), self.hw(pre + ".bias"))

    def stage1(self, ids, lens):
        B, T = ids.shape
        m = self.m1
        mask = (torch.arange(T)[None, :] < lens[:, None]).float()
        x = (m.w("embeddings.word_embeddings.weight")[ids]
             + m.w("embeddings.position_embeddings.weight")[:T][None]
             + m.w("embeddings.token_type_embeddings.weight")[0][None, None])
        h = encode(m, x, mask)
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        mlp = "first_stage_model.mlp."
        return self.lin(torch.nn.functional.gelu(self.lin(pooled, mlp + "0")), mlp + "2")

    def prompt(self, C):
        pp = "second_stage_model.prompt_projection."
        ones = torch.ones(C)
        return self.lin(torch.relu(self.lin(ones, pp + "0")), pp + "2").view(self.S, C)

    def stage2(self, E, drop, ids, lens):
        """E [J, C]; drop [B, J] bool (True: v_null) or None; returns
        (pooled over text [B, C], normalized embedding [B, C])."""
        B, T = ids.shape
        J, C = E.shape
        m = self.m2
        null = self.hw("second_stage_model.sequence_dropout_null_embedding")
        ctx = E[None].expand(B, J, C)
        if drop is not None:
            ctx = torch.where(drop[..., None], null[None, None].expand(B, J, C), ctx)
        prefix = torch.cat([ctx, self.prompt(C)[None].expand(B, self.S, C)], 1)
        P = J + self.S
        word = m.w("embeddings.word_embeddings.weight")[ids]
        pos = m.w("embeddings.position_embeddings.weight")
        typ = m.w("embeddings.token_type_embeddings.weight")[0]
        if self.ctx_positions:   # the control: positions on every input
            x = torch.cat([prefix, word], 1) + pos[:P + T][None] + typ[None, None]
        else:                    # the paper: the prefix carries no position
            x = torch.cat([prefix, word + pos[:T][None] + typ[None, None]], 1)
        text = (torch.arange(T)[None, :] < lens[:, None]).float()
        mask = torch.cat([torch.ones(B, P), text], 1)
        h = encode(m, x, mask)[:, P:]
        pooled = (h * text[..., None]).sum(1) / text.sum(1, keepdim=True)
        op = "second_stage_model.output_projection."
        y = self.lin(torch.relu(self.lin(pooled, op + "0")), op + "2")
        if self.residual:
            y = y + pooled
        return pooled, torch.nn.functional.normalize(y, dim=-1)

    def named_all(self):
        for k, p in self.m1.p.items():
            yield S1 + k.replace("__", "."), p
        for k, p in self.m2.p.items():
            yield S2 + k.replace("__", "."), p
        for k, p in self.h.items():
            yield k.replace("__", "."), p


def check(d):
    a = json.load(open(d + "/args.json"))
    W = st_load(d + "/init.safetensors")
    ids, lens = npy_load(d + "/ids.npy").long(), npy_load(d + "/lengths.npy").long()
    cids, clens = npy_load(d + "/ctx_ids.npy").long(), npy_load(d + "/ctx_lengths.npy").long()
    drop = npy_load(d + "/drop.npy").bool()
    N = ids.shape[0] // 2
    maskbits = unpack_mask(npy_load(d + "/mask.npy"), N)
    ids, cids = ids[:, :int(lens.max())], cids[:, :int(clens.max())]
    model = Contextual(W, a["L"], a["H"], a["eps"], a["S"], a["ctx_positions"], a["residual"])
    E = model.stage1(cids, clens)
    E.retain_grad()
    pooled, emb = model.stage2(E, drop, ids, lens)
    loss = infonce(emb, N, maskbits, a["tau"], a["symmetric"])
    loss.backward()

    fwd, grads = st_load(d + "/fwd.safetensors"), st_load(d + "/grads.safetensors")
    cj = json.load(open(d + "/c.json"))
    bad = []

    def cmp(name, c, r, tol, why):
        c, r = torch.as_tensor(c).double(), torch.as_tensor(r).detach().double()
        scale = max(r.abs().max().item(), 1e-30)
        err = (c - r).abs().max().item() / scale
        ok = err <= tol
        print("%s %-72s max|ref| %.3e err/max %.2e (tol %.0e: %s)"
              % ("ok " if ok else "BAD", name, scale, err, tol, why))
        if not ok:
            bad.append(name)

    # Forward: O(1) LayerNorm outputs through two float32 encoders in a row
    # (sums over <= 64 terms, exp/erf from different libms): ~1e-6 measured,
    # 1e-5 leaves a 10x margin (the biencoder's bound).
    cmp("E (stage 1)", fwd["E"], E, 1e-5, "float32, one encoder + head")
    cmp("pooled (stage 2, text positions)", fwd["pooled"], pooled, 1e-5, "float32, two encoders")
    cmp("embeddings (normalized)", fwd["emb"], emb, 1e-5, "float32, two encoders")
    cmp("loss", [cj["loss"]], [loss.item()], 1e-5, "similarities/tau in float32")
    # dE: the gradient at the stage boundary, summed over 2N sequences
    # (measured 1.6e-6).
    cmp("dE", fwd["dE"], E.grad, 2e-5, "float32 backward through M2")
    # Gradients, each relative to its tensor's largest entry: float32
    # backward sums over batch x tokens in another order than torch's; the
    # M1 gradients go through one more encoder (M2 -> E -> M1): measured
    # worst 3.5e-6 (M1's first layer), 3e-5 per tensor (~10x).
    P = dict(model.named_all())
    gscale = max(p.grad.abs().max().item() for p in P.values() if p.grad is not None)
    for k in sorted(grads):
        g = P[k].grad
        if g is None:
            g = torch.zeros_like(P[k])
        if k.endswith("attention.self.key.bias"):
            # analytically zero (softmax is shift-invariant per query row);
            # both sides hold float noise: absolute against the largest grad
            err = max(grads[k].abs().max().item(), g.abs().max().item()) / gscale
            ok = err <= 1e-5
            print("%s %-72s |grad|/max grad %.2e (tol 1e-5: analytically zero)"
                  % ("ok " if ok else "BAD", "grad " + k, err))
            if not ok:
                bad.append(k)
            continue
        if g.abs().max().item() == 0:
            ok = grads[k].abs().max().item() == 0
            print("%s %-72s zero in both (unused rows)" % ("ok " if ok else "BAD", "grad " + k))
            if not ok:
                bad.append(k)
            continue
        cmp("grad " + k, grads[k], g, 3e-5, "float32 backward, two stages")
    if set(grads) != set(P):
        bad.append("tensor names differ: %s" % sorted(set(grads) ^ set(P)))
    if bad:
        print("FAILED:", ", ".join(bad))
        return 1
    print("all tensors within tolerance")
    return 0


def embed(model_dir, cids_p, clens_p, ids_p, lens_p, out_e, out_emb):
    cfg = json.load(open(model_dir + "/config.json"))
    W = st_load(model_dir + "/model.safetensors")
    model = Contextual(W, cfg["num_hidden_layers"], cfg["num_attention_heads"],
                       cfg.get("layer_norm_eps", 1e-12), cfg.get("n_soft_prompt", 8),
                       cfg.get("context_positions", False), cfg.get("output_residual", False))
    ids, lens = npy_load(ids_p).long(), npy_load(lens_p).long()
    with torch.no_grad():
        if cids_p == "null":
            J, C = cfg["transductive_corpus_size"], cfg["hidden_size"]
            E = torch.zeros(J, C)
            drop = torch.ones(ids.shape[0], J, dtype=torch.bool)
        else:
            cids, clens = npy_load(cids_p).long(), npy_load(clens_p).long()
            E = model.stage1(cids[:, :int(clens.max())], clens)
            drop = None
        _, emb = model.stage2(E, drop, ids[:, :int(lens.max())], lens)
    npy_save_f32(out_e, E)
    npy_save_f32(out_emb, emb)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2]))
    if len(sys.argv) == 9 and sys.argv[1] == "embed":
        sys.exit(embed(*sys.argv[2:9]))
    sys.exit("usage: ctx_ref.py check DIR | embed MODEL CTX_IDS CTX_LENS IDS LENS OUT_E OUT_EMB")
