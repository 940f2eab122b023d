#!/usr/bin/env python3
"""Rebuilds the traced EmbeddingGemma ONNX export as a compact graph, then quantizes it.

    optimize.py FP32_MODEL.onnx OUT_DIR [--quant int8|int8-pc|none] [--reduce-range] [--fuse-matmuls]
                [--name model_quantized.onnx] [--check N --tokenizer tokenizer.json --texts texts.jsonl]

The TorchScript trace (export.py) has ~7,000 nodes: shape arithmetic around every Reshape, RMS norms
as Pow/ReduceMean/Sqrt/Div/Mul chains, rotary embeddings as Slice/Neg/Concat, attention from
primitive ops, GELU(tanh) as seven ops. ONNX Runtime's own fusions catch only the RMS norms, so a
short text runs ~2,750 kernels. This script reads the weights out of the trace and writes the same
computation with ONNX Runtime's fused ops (about 25 nodes per layer):

  SkipSimplifiedLayerNormalization  residual add + RMS norm (SimplifiedLayerNormalization alone
                                    for q/k norms and the post-norms)
  MatMul q|k|v, MatMul gate|up      optional (--fuse-matmuls): one GEMM per input, Split after
  RotaryEmbedding                   rotate-half RoPE, local (10k) and global (1M) base tables
  MultiHeadAttention                3 query heads over the one key/value head (repeated), with the
                                    additive full / sliding-window mask built once per run
  FastGelu                          gelu_pytorch_tanh

Inputs (input_ids, attention_mask) and outputs (last_hidden_state, sentence_embedding) keep their
names and shapes. com.microsoft ops: ONNX Runtime only. The fp32 rebuild is checked against the
trace on --check texts (cosine of sentence_embedding); then quantize_dynamic as
../shared/tools/embeddinggemma/quantize.py does (int8 weights, MatMul + Gather), per tensor
(`int8`, the shared tool's setting) or per channel (`int8-pc`). OUT_DIR/onnx/model_quantized.onnx
is written with external data next to it (the layout bench/externalize.py makes), with
tokenizer.json and config.json linked from the source directory.

The sliding window is read from the trace's mask builder (257: transformers' bidirectional window,
not config.json's 512); the fp32 rebuild matches the trace on padded 700-token batches.
Measurements and the table: bench/graph/README.md.
"""
import argparse
import json
import os
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MS = "com.microsoft"


class Trace:
    """Weights and constants of the traced graph, looked up by node name."""

    def __init__(self, path):
        self.model = onnx.load(path)
        g = self.model.graph
        self.init = {t.name: t for t in g.initializer}
        self.nodes = {n.name: n for n in g.node}
        self.const = {n.output[0]: n for n in g.node if n.op_type == "Constant"}

    def value(self, name):
        if name in self.init:
            return numpy_helper.to_array(self.init[name])
        node = self.const[name]
        return numpy_helper.to_array(node.attribute[0].t)

    def input(self, node, i):
        return self.value(self.nodes[node].input[i])


class Builder:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def w(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op, inputs, outputs=1, domain="", name=None, **attrs):
        self.n += 1
        name = name or f"{op}_{self.n}"
        outs = [f"{name}/out{i}" for i in range(outputs)] if isinstance(outputs, int) else outputs
        self.nodes.append(helper.make_node(op, inputs, outs, name=name, domain=domain or None, **attrs))
        return outs[0] if len(outs) == 1 else outs


def skip_norm(b, x, skip, gamma, eps):
    """(RMSNorm(x + skip), x + skip) in one SkipSimplifiedLayerNormalization."""
    b.n += 1
    name = f"SkipSimplifiedLayerNormalization_{b.n}"
    normed, total = f"{name}/out0", f"{name}/out3"
    b.nodes.append(helper.make_node("SkipSimplifiedLayerNormalization", [x, skip, gamma], [normed, "", "", total],
                                    name=name, domain=MS, epsilon=eps))
    return normed, total


def rope_tables(theta, head_dim, max_pos, scale):
    inv = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.int64).astype(np.float32) / head_dim))
    freqs = np.outer(np.arange(max_pos, dtype=np.float32), inv)
    return (np.cos(freqs) * scale).astype(np.float32), (np.sin(freqs) * scale).astype(np.float32)


def build(trace_path, config, fuse=False):
    t = Trace(trace_path)
    cfg = json.load(open(config))
    layers, heads, kv, hd = cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    hidden, eps = cfg["hidden_size"], float(cfg["rms_norm_eps"])
    # The window as the trace applies it (|q - k| < window): transformers' bidirectional sliding
    # window is not config.json's sliding_window, so it is read from the mask builder's Less.
    window = int(t.input("/Less", 1))
    max_pos = cfg["max_position_embeddings"]
    assert kv == 1, "the key/value head is repeated by Concat; more kv heads need a different layout"
    b = Builder()

    # Masks, once per run: additive biases [B, 1, S, S] (0 = attend, float32 min = blocked).
    keep = b.op("Cast", ["attention_mask"], to=TensorProto.BOOL)
    keep4 = b.op("Unsqueeze", [keep, b.w("axes_1_2", np.array([1, 2], np.int64))])
    seq = b.op("Gather", [b.op("Shape", ["input_ids"]), b.w("one", np.array(1, np.int64))], axis=0)
    pos = b.op("Range", [b.w("zero", np.array(0, np.int64)), seq, b.w("one_step", np.array(1, np.int64))])
    dist = b.op("Abs", [b.op("Sub", [b.op("Unsqueeze", [pos, b.w("ax1", np.array([1], np.int64))]),
                                     b.op("Unsqueeze", [pos, b.w("ax0", np.array([0], np.int64))])])])
    big = np.finfo(np.float32).min
    zero_f, min_f = b.w("zero_f", np.array(0, np.float32)), b.w("min_f", np.array(big, np.float32))
    in_window = b.op("Less", [dist, b.w("window", np.array(window, np.int64))])
    everywhere = b.op("GreaterOrEqual", [dist, b.w("zero_i", np.array(0, np.int64))])
    masks = {
        "sliding_attention": b.op("Where", [b.op("And", [keep4, in_window]), zero_f, min_f], name="mask_sliding"),
        "full_attention": b.op("Where", [b.op("And", [keep4, everywhere]), zero_f, min_f], name="mask_full"),
    }
    # RotaryEmbedding position ids [B, S].
    pos_ids = b.op("Expand", [b.op("Unsqueeze", [pos, b.w("ax0b", np.array([0], np.int64))]), b.op("Shape", ["input_ids"])])
    rot_scale_g = float(t.value(t.nodes["/encoder/rotary_emb/Mul_1"].input[1]))
    rot_scale_l = float(t.value(t.nodes["/encoder/rotary_emb_local/Mul_1"].input[1]))
    tables = {}
    for kind, theta, s in (("full_attention", cfg["rope_theta"], rot_scale_g),
                           ("sliding_attention", cfg["rope_local_base_freq"], rot_scale_l)):
        cos, sin = rope_tables(theta, hd, max_pos, s)
        tables[kind] = (b.w(f"rope_cos_{kind}", cos), b.w(f"rope_sin_{kind}", sin))

    emb = b.op("Gather", ["encoder.embed_tokens.weight", "input_ids"], name="/encoder/embed_tokens/Gather")
    b.inits.append(t.init["encoder.embed_tokens.weight"])
    x = b.op("Mul", [emb, b.w("embed_scale", t.input("/encoder/embed_tokens/Mul", 1))])
    attn_scale = float(t.input("/encoder/layers.0/self_attn/Mul_8", 1))
    residual = None  # the running sum; None before layer 0's input norm
    for i in range(layers):
        p = f"/encoder/layers.{i}/"
        W = lambda mod: t.input(p + mod + "/MatMul", 1)  # noqa: E731  (in, out) layout
        norm = lambda mod: t.input(p + mod + "/Mul_1", 1)  # noqa: E731  already 1 + weight
        kind = cfg["layer_types"][i]
        if residual is None:
            h = b.op("SimplifiedLayerNormalization", [x, b.w(f"l{i}.in_norm", norm("input_layernorm"))],
                     axis=-1, epsilon=eps)
            residual = x
        else:
            h, residual = skip_norm(b, x, residual, b.w(f"l{i}.in_norm", norm("input_layernorm")), eps)
        wq, wk, wv = W("self_attn/q_proj"), W("self_attn/k_proj"), W("self_attn/v_proj")
        if fuse:
            qkv = b.op("MatMul", [h, b.w(f"l{i}.qkv", np.concatenate([wq, wk, wv], 1))], name=p + "qkv_proj/MatMul")
            q, k, v = b.op("Split", [qkv, b.w(f"l{i}.qkv_split", np.array([wq.shape[1], wk.shape[1], wv.shape[1]], np.int64))],
                           outputs=3, axis=-1)
        else:
            q = b.op("MatMul", [h, b.w(f"l{i}.q", wq)], name=p + "q_proj/MatMul")
            k = b.op("MatMul", [h, b.w(f"l{i}.k", wk)], name=p + "k_proj/MatMul")
            v = b.op("MatMul", [h, b.w(f"l{i}.v", wv)], name=p + "v_proj/MatMul")
        shape4 = b.w(f"l{i}.q4", np.array([0, 0, heads, hd], np.int64))
        shape3 = b.w(f"l{i}.q3", np.array([0, 0, heads * hd], np.int64))
        q = b.op("SimplifiedLayerNormalization", [b.op("Reshape", [q, shape4]), b.w(f"l{i}.q_norm", norm("self_attn/q_norm"))],
                 axis=-1, epsilon=eps)
        q = b.op("RotaryEmbedding", [b.op("Reshape", [q, shape3]), pos_ids, *tables[kind]], domain=MS, num_heads=heads)
        k = b.op("SimplifiedLayerNormalization", [k, b.w(f"l{i}.k_norm", norm("self_attn/k_norm"))], axis=-1, epsilon=eps)
        k = b.op("RotaryEmbedding", [k, pos_ids, *tables[kind]], domain=MS, num_heads=kv)
        k = b.op("Concat", [k] * heads, axis=-1)  # one kv head shared by the query heads
        v = b.op("Concat", [v] * heads, axis=-1)
        a = b.op("MultiHeadAttention", [q, k, v, "", "", masks[kind]], domain=MS, num_heads=heads, scale=attn_scale)
        o = b.op("MatMul", [a, b.w(f"l{i}.o", W("self_attn/o_proj"))], name=p + "o_proj/MatMul")
        o = b.op("SimplifiedLayerNormalization", [o, b.w(f"l{i}.post_attn_norm", norm("post_attention_layernorm"))],
                 axis=-1, epsilon=eps)
        h, residual = skip_norm(b, o, residual, b.w(f"l{i}.pre_ff_norm", norm("pre_feedforward_layernorm")), eps)
        wg, wu = W("mlp/gate_proj"), W("mlp/up_proj")
        if fuse:
            gu = b.op("MatMul", [h, b.w(f"l{i}.gate_up", np.concatenate([wg, wu], 1))], name=p + "gate_up_proj/MatMul")
            g, u = b.op("Split", [gu, b.w(f"l{i}.gu_split", np.array([wg.shape[1], wu.shape[1]], np.int64))], outputs=2, axis=-1)
        else:
            g = b.op("MatMul", [h, b.w(f"l{i}.gate", wg)], name=p + "gate_proj/MatMul")
            u = b.op("MatMul", [h, b.w(f"l{i}.up", wu)], name=p + "up_proj/MatMul")
        m = b.op("Mul", [b.op("FastGelu", [g], domain=MS), u])
        d = b.op("MatMul", [m, b.w(f"l{i}.down", W("mlp/down_proj"))], name=p + "down_proj/MatMul")
        x = b.op("SimplifiedLayerNormalization", [d, b.w(f"l{i}.post_ff_norm", norm("post_feedforward_layernorm"))],
                 axis=-1, epsilon=eps)
    b.op("SkipSimplifiedLayerNormalization", [x, residual, b.w("final_norm", t.input("/encoder/norm/Mul_1", 1))],
         outputs=["last_hidden_state"], domain=MS, epsilon=eps)

    # Mean pooling over the mask, Dense 768->3072->768, L2 normalisation (as the trace).
    mf = b.op("Cast", [b.op("Unsqueeze", ["attention_mask", b.w("ax_last", np.array([-1], np.int64))])], to=TensorProto.FLOAT)
    axis1 = b.w("axis1", np.array([1], np.int64))
    total = b.op("ReduceSum", [b.op("Mul", ["last_hidden_state", mf]), axis1], keepdims=0)
    count = b.op("Clip", [b.op("ReduceSum", [mf, axis1], keepdims=0), b.w("tiny", np.array(1e-9, np.float32))])
    pooled = b.op("Div", [total, count])
    d1 = b.op("MatMul", [pooled, b.w("dense1", t.input("/dense1/MatMul", 1))], name="/dense1/MatMul")
    d2 = b.op("MatMul", [d1, b.w("dense2", t.input("/dense2/MatMul", 1))], name="/dense2/MatMul")
    l2 = b.op("Clip", [b.op("ReduceL2", [d2], axes=[-1], keepdims=1), b.w("eps_l2", np.array(1e-12, np.float32))])
    b.op("Div", [d2, l2], outputs=["sentence_embedding"])

    g = helper.make_graph(
        b.nodes, "embeddinggemma_fused",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden]),
         helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        b.inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)],
                             producer_name="vault-rag bench/graph/optimize.py")


def save(model, path):
    for p in (path, path + "_data"):
        if os.path.exists(p):
            os.remove(p)
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=os.path.basename(path) + "_data", size_threshold=4096)


def check(reference, candidate, ids):
    """(mean, min) cosine of sentence_embedding between two files, one text per run."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    out = []
    for path in (reference, candidate):
        s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        out.append(np.stack([s.run(["sentence_embedding"], {"input_ids": x[None], "attention_mask": np.ones((1, len(x)), np.int64)})[0][0]
                             for x in ids]))
    c = (out[0] * out[1]).sum(1) / np.linalg.norm(out[0], axis=1) / np.linalg.norm(out[1], axis=1)
    return float(c.mean()), float(c.min())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fp32", help="the traced fp32 model.onnx (export.py)")
    ap.add_argument("out_dir")
    ap.add_argument("--config", help="config.json (default: next to the model's onnx/ folder)")
    ap.add_argument("--quant", choices=["int8", "int8-pc", "none"], default="int8")
    ap.add_argument("--reduce-range", action="store_true",
                    help="7-bit weights: no int16 saturation in the AVX2 u8 x s8 kernels (vpmaddubsw)")
    ap.add_argument("--name", default="model_quantized.onnx", help="file name of the quantized graph")
    ap.add_argument("--fuse-matmuls", action="store_true",
                    help="one MatMul for q|k|v and one for gate|up (a shared per-tensor scale each; "
                         "measured no faster in vault-rag's batches)")
    ap.add_argument("--check", type=int, default=8, help="texts to compare the fp32 rebuild on (0: skip)")
    ap.add_argument("--texts", help="texts.jsonl for --check")
    ap.add_argument("--tokenizer", help="tokenizer.json for --check")
    a = ap.parse_args()
    config = a.config or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(a.fp32))), "config.json")
    os.makedirs(os.path.join(a.out_dir, "onnx"), exist_ok=True)
    # OUT_DIR becomes a model directory vault-rag can load: tokenizer and config from the source.
    for name in ("tokenizer.json", "config.json"):
        src, link = os.path.join(os.path.dirname(config), name), os.path.join(a.out_dir, name)
        if os.path.exists(src) and not os.path.lexists(link):
            os.symlink(os.path.abspath(src), link)
    t0 = time.time()
    model = build(a.fp32, config, fuse=a.fuse_matmuls)
    fp32_out = os.path.join(a.out_dir, "onnx", "model.onnx")
    save(model, fp32_out)
    print(f"rebuilt: {len(model.graph.node)} nodes -> {fp32_out} ({time.time() - t0:.0f}s)", flush=True)
    if a.check and a.texts and a.tokenizer:
        import sys

        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from texts import load_ids

        ids = load_ids(a.texts, a.tokenizer, a.check)
        mean, low = check(a.fp32, fp32_out, ids)
        print(f"fp32 rebuild vs trace on {len(ids)} texts: cosine mean {mean:.6f} min {low:.6f}", flush=True)
        if low < 0.9999:
            raise SystemExit("the rebuilt graph does not reproduce the trace")
    if a.quant != "none":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        dst = os.path.join(a.out_dir, "onnx", a.name)
        t0 = time.time()
        quantize_dynamic(fp32_out, dst, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gather"],
                         per_channel=a.quant == "int8-pc", reduce_range=a.reduce_range, use_external_data_format=True,
                         # the contrib ops have no ONNX shape inference; every tensor here is float
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
        save(onnx.load(dst), dst)  # one page-aligned side file, like bench/externalize.py
        if os.path.exists(dst + ".data"):
            os.remove(dst + ".data")  # the quantizer's own side file, now copied into dst + "_data"
        print(f"quantized ({a.quant}{', reduce_range' if a.reduce_range else ''}) -> {dst} ({time.time() - t0:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
