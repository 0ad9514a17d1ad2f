#!/usr/bin/env python3
"""Exports a BERT model folder to ONNX with Debian's PyTorch (1.13), for the
ONNX Runtime side of bench/bench_precision.sh: the forward of
tests/ref/bert_ref.py (the independent reference BERT the encoder tests
compare against) with the model's pooling and normalization, inputs
input_ids / attention_mask (int64 [B, T], dynamic), output embeddings
[B, C]. With --int8 also writes ONNX Runtime's own dynamic quantization of
it (run that step under a Python that has onnxruntime).

usage: onnx_export.py MODEL_DIR OUT.onnx            (Debian python3: export)
       onnx_export.py --int8 IN.onnx OUT_INT8.onnx  (venv with onnxruntime)
"""
import os
import sys


def export(model_dir, out):
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "ref"))
    from bert_ref import load_model

    cfg, w, pool, normalize = load_model(model_dir)
    C, H, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg.get("layer_norm_eps", 1e-12)
    hs = C // H
    F = torch.nn.functional

    def bert_forward(w, ids, mask):
        """bert_ref.bert_forward with constant shapes where the tracer needs
        them (the same operations in the same order)."""
        T = ids.shape[1]
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:T][None]
             + w["embeddings.token_type_embeddings.weight"][0][None, None])
        x = F.layer_norm(x, (C,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        add = (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        for l in range(cfg["num_hidden_layers"]):
            p = "encoder.layer.%d." % l

            def heads(t):
                return t.reshape(t.shape[0], -1, H, hs).permute(0, 2, 1, 3)

            q = heads(F.linear(x, w[p + "attention.self.query.weight"], w[p + "attention.self.query.bias"]))
            k = heads(F.linear(x, w[p + "attention.self.key.weight"], w[p + "attention.self.key.bias"]))
            v = heads(F.linear(x, w[p + "attention.self.value.weight"], w[p + "attention.self.value.bias"]))
            a = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / (hs ** 0.5) + add, dim=-1)
            ctx = torch.matmul(a, v).permute(0, 2, 1, 3).reshape(x.shape[0], -1, C)
            h = F.linear(ctx, w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"])
            x = F.layer_norm(h + x, (C,), w[p + "attention.output.LayerNorm.weight"],
                             w[p + "attention.output.LayerNorm.bias"], eps)
            f = F.gelu(F.linear(x, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"]))
            h = F.linear(f, w[p + "output.dense.weight"], w[p + "output.dense.bias"])
            x = F.layer_norm(h + x, (C,), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        if pool == "cls":
            out = x[:, 0]
        else:
            m = mask[:, :, None].to(torch.float32)
            out = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return F.normalize(out, p=2.0, dim=1) if normalize else out

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.names = list(w.keys())
            for i, k in enumerate(self.names):
                self.register_buffer("w%d" % i, w[k])

        def forward(self, ids, mask):
            ww = {k: getattr(self, "w%d" % i) for i, k in enumerate(self.names)}
            return bert_forward(ww, ids, mask)

    ids = torch.randint(1000, 2000, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    torch.onnx.export(M(), (ids, mask), out, input_names=["input_ids", "attention_mask"],
                      output_names=["embeddings"], opset_version=14,
                      dynamic_axes={"input_ids": {0: "B", 1: "T"},
                                    "attention_mask": {0: "B", 1: "T"},
                                    "embeddings": {0: "B"}})


def quantize(src, out):
    from onnxruntime.quantization import QuantType, quantize_dynamic
    # per-channel int8 weights, dynamic per-tensor uint8 activations (ORT's
    # VNNI path, the fastest int8 mode it offers on x86)
    quantize_dynamic(src, out, per_channel=True, weight_type=QuantType.QInt8)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--int8":
        quantize(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3:
        export(sys.argv[1], sys.argv[2])
    else:
        sys.exit(__doc__)
