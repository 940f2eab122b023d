#!/usr/bin/env python3
"""Re-lays EmbeddingGemma's single-file ONNX exports out with external weights:

    externalize.py SRC_DIR DST_DIR

DST_DIR/onnx/model_quantized.onnx (+ model_quantized.onnx_data) and model_q4.onnx (+ _data), with
tokenizer.json and config.json linked from SRC_DIR. Same graph, same weights, same vectors; the
weights sit in a page-aligned side file that ONNX Runtime memory-maps instead of copying, so the
rows of the 262,144-token embedding table that a text never uses stay on disk. Skips files already
converted from the same source (size and mtime recorded in DST_DIR/source.json).
"""
import json
import os
import sys

import onnx


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.join(dst, "onnx"), exist_ok=True)
    for name in ("tokenizer.json", "config.json"):
        link = os.path.join(dst, name)
        if not os.path.lexists(link):
            os.symlink(os.path.abspath(os.path.join(src, name)), link)
    stamp_path = os.path.join(dst, "source.json")
    try:
        with open(stamp_path) as f:
            stamp = json.load(f)
    except (OSError, ValueError):
        stamp = {}
    for name in ("model_quantized.onnx", "model_q4.onnx"):
        source = os.path.join(src, "onnx", name)
        if not os.path.exists(source):
            continue
        st = os.stat(source)
        key = [st.st_size, st.st_mtime_ns]
        target = os.path.join(dst, "onnx", name)
        if stamp.get(name) == key and os.path.exists(target) and os.path.exists(target + "_data"):
            continue
        print(f"externalize: {name}", file=sys.stderr)
        model = onnx.load(source)
        for p in (target, target + "_data"):
            if os.path.exists(p):
                os.remove(p)
        # onnx aligns each tensor of the side file to the page size, which lets ONNX Runtime map it.
        onnx.save_model(model, target, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=name + "_data", size_threshold=4096)
        stamp[name] = key
        with open(stamp_path, "w") as f:
            json.dump(stamp, f)


if __name__ == "__main__":
    main()
