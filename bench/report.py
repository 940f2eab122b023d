#!/usr/bin/env python3
"""Collects one `make bench` run into bench/out/results.json, bench/out/results.md (the targets
table) and two plots: rss_indexing.png (RSS over time while indexing) and latency.png.

    report.py OUT_DIR

Reads what bench/run.sh left in OUT_DIR: *.json results, *.rss.csv series, load.txt.
"""
import json
import os
import sys


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def series(path):
    out = []
    try:
        with open(path) as f:
            next(f)
            for line in f:
                t, m = line.strip().split(",")
                out.append((float(t), float(m)))
    except (OSError, StopIteration, ValueError):
        pass
    return out


def flatness(points):
    """Peak RSS in each quarter of the run: a ratchet shows as a rising sequence."""
    if len(points) < 8:
        return None
    end = points[-1][0]
    quarters = []
    for q in range(4):
        lo, hi = end * q / 4, end * (q + 1) / 4
        vals = [m for t, m in points if lo <= t <= hi]
        quarters.append(round(max(vals), 1) if vals else None)
    return quarters


def verdict(ok):
    return "met" if ok else "not met"


def main():
    out = sys.argv[1]
    r = {"load": open(os.path.join(out, "load.txt")).read().strip() if os.path.exists(os.path.join(out, "load.txt")) else None}
    r["vault"] = load(os.path.join(out, "manifest.json"))
    tp = {k: load(os.path.join(out, f"{k}.json")) for k in ("vault_rag", "seed", "st")}
    tp["check"] = load(os.path.join(out, "vector_check.json"))
    if all(tp.get(k) for k in ("vault_rag", "seed")):
        v = tp["vault_rag"]["tokens_per_second"]
        tp["ratio_vs_seed"] = round(v / tp["seed"]["tokens_per_second"], 2)
        if tp.get("st"):
            tp["ratio_vs_st"] = round(v / tp["st"]["tokens_per_second"], 2)
    r["throughput"] = tp
    full = load(os.path.join(out, "index_full.json"), {})
    full_series = series(os.path.join(out, "index-full.rss.csv"))
    full["rss_quarters_mib"] = flatness(full_series)
    r["full_index"] = full
    serve = load(os.path.join(out, "serve.json"), {})
    r["serve"] = {k: v for k, v in serve.items() if not k.endswith("latencies_ms")}
    r["restart"] = load(os.path.join(out, "restart.json"))
    r["serve_q4"] = load(os.path.join(out, "serve_q4.json"))
    r["serve_sample"] = load(os.path.join(out, "serve_sample.json"))
    r["levers"] = load(os.path.join(out, "levers.json"))
    r["realistic"] = realistic(out)
    r["pass_vs_loop"] = load(os.path.join(out, "pass_vs_loop.json"))
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(r, f, indent=1)

    rows = []
    steady = None
    if serve:
        steady = max(x for x in (serve.get("rss_idle_mib"), serve.get("rss_after_queries_mib"),
                                 (serve.get("health_at_end") or {}).get("rss_mb")) if x is not None)
        rows.append(("steady RSS of `serve`, indexed 10k vault, int8", "< 200 MB", f"{steady:.0f} MiB = {mb(steady):.0f} MB", verdict(mb(steady) < 200)))
    q4 = r.get("serve_q4") or {}
    small = r.get("serve_sample") or {}
    if q4.get("rss_idle_mib") and small.get("rss_idle_mib") and steady:
        # No full q4 index: q4 on the sample, plus what the 10k index adds to int8 over the sample.
        estimate = q4["rss_idle_mib"] + (steady - small["rss_idle_mib"])
        rows.append(("steady RSS of `serve`, q4 (estimated, see notes)", "< 150 MB",
                     f"≈ {estimate:.0f} MiB = {mb(estimate):.0f} MB (q4 {q4['rss_idle_mib']:.0f} vs int8 {small['rss_idle_mib']:.0f} MiB on the sample)",
                     verdict(mb(estimate) < 150)))
    m = full.get("measure") or {}
    if m.get("time_peak_mib") and steady:
        ratio = m["time_peak_mib"] / steady
        rows.append(("peak RSS while indexing the 10k vault", "< 1.5 × steady", f"{m['time_peak_mib']:.0f} MiB = {ratio:.2f} × steady", verdict(ratio < 1.5)))
    if full.get("rss_quarters_mib"):
        qs = full["rss_quarters_mib"]
        flat = all(b is None or a is None or b <= a * 1.05 for a, b in zip(qs[1:], qs[2:]))
        rows.append(("RSS flat over the indexing run (peak per quarter)", "no ratchet", " / ".join(f"{x:.0f}" for x in qs if x) + " MiB", verdict(flat)))
    if tp.get("ratio_vs_seed"):
        rows.append(("indexing throughput vs the seed's Python loop", "≥ 2 ×", f"{tp['ratio_vs_seed']:.2f} × ({tp['vault_rag']['tokens_per_second']:.0f} vs {tp['seed']['tokens_per_second']:.0f} tokens/s)", verdict(tp["ratio_vs_seed"] >= 2)))
    if tp.get("ratio_vs_st"):
        rows.append(("indexing throughput vs sentence-transformers", "≥ 3 ×", f"{tp['ratio_vs_st']:.2f} × ({tp['st']['tokens_per_second']:.0f} tokens/s)", verdict(tp["ratio_vs_st"] >= 3)))
    for row in r.get("pass_vs_loop") or []:
        goal = 1.5 if row["config"].startswith("minilm") else 1.0
        rows.append((f"whole index pass vs the Python loop, {row['config'].split('-')[0]}, {row['threads']} thread(s), realistic sample",
                     f"≥ {goal} ×", f"{row['ratio']:.2f} × ({row['vault_rag_tokens_per_second']:.0f} vs {row['loop_tokens_per_second']:.0f} tokens/s)",
                     verdict(row["ratio"] >= goal)))
    seq, conc = serve.get("sequential"), serve.get("concurrent")
    if seq:
        rows.append(("query latency, sequential, p50", "< 25 ms", f"{seq['p50_ms']:.1f} ms", verdict(seq["p50_ms"] < 25)))
        rows.append(("query latency, sequential, p99", "< 60 ms", f"{seq['p99_ms']:.1f} ms", verdict(seq["p99_ms"] < 60)))
    if conc:
        ok = conc["errors"] == 0 and conc["p99_ms"] < 250
        rows.append(("8 concurrent clients: errors, p99", "0, < 250 ms", f"{conc['errors']}, {conc['p99_ms']:.1f} ms", verdict(ok)))
    if serve.get("start_to_healthy_s") is not None:
        s = serve["start_to_healthy_s"]
        rows.append(("start to healthy, existing index", "< 1 s", f"{s:.2f} s", verdict(s < 1)))
    if serve.get("model_ready_s") is not None:
        rows.append(("(start to model loaded, in the background)", "", f"{serve['model_ready_s']:.2f} s", ""))
    rs = r.get("restart") or {}
    if "chunks_embedded" in rs:
        rows.append(("restart with no vault changes: embeddings", "0", f"{rs['chunks_embedded']} ({rs.get('elapsed_ms', 0) / 1e3:.1f} s)", verdict(rs["chunks_embedded"] == 0)))
    md = ["| target | goal | measured | |", "| --- | --- | --- | --- |"]
    md += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    md.append("")
    md.append(f"Load while measuring: {r['load']}")
    if r.get("levers"):
        md += ["", "| setting | RSS after load (MiB) | RSS after embedding | peak | tokens/s |",
               "| --- | --- | --- | --- | --- |"]
        for lv in r["levers"]:
            x = lv["result"]
            md.append(f"| {lv['setting'].strip()} | {x['rss_after_load_mib']:.0f} | {x['rss_end_mib']:.0f} | "
                      f"{x['peak_rss_mib']:.0f} | {x['tokens_per_second']:.0f} |")
    md += realistic_md(r["realistic"])
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    plots(out, full_series, serve)


def realistic(out):
    """The realistic vaults of step 9, by size: the vault, the fill, serve, the first minute."""
    sizes = sorted(int(n[len("real_"):-len("_manifest.json")]) for n in os.listdir(out)
                   if n.startswith("real_") and n.endswith("_manifest.json"))
    res = {}
    for n in sizes:
        serve = load(os.path.join(out, f"real_{n}.json"), {})
        res[str(n)] = {
            "vault": load(os.path.join(out, f"real_{n}_manifest.json")),
            "fill": load(os.path.join(out, f"real_{n}_fill.json")),
            "fill_measure": load(os.path.join(out, f"real_{n}_fill_measure.json")),
            "serve": {k: v for k, v in serve.items() if not k.endswith("latencies_ms")},
            "first_minute": load(os.path.join(out, f"real_{n}_first_minute.json")),
            "serve_prepacked": {k: v for k, v in load(os.path.join(out, f"real_{n}_prepacked.json"), {}).items()
                                if not k.endswith("latencies_ms")},
        }
    return res


def stages(seq):
    st = seq.get("stages_p50_ms") or {}
    if st.get("lexical") is None or st.get("dense") is None:
        return ""
    return f"{st['lexical']:.1f} / {st['dense']:.1f} ms"


def realistic_md(res):
    if not res:
        return []
    md = ["", "Realistic vaults (EmbeddingGemma int8, 768 dimensions; vectors past the first 384 "
          "sections re-used from those, see docs/benchmarks.md):", "",
          "| notes | words | sections | index on disk | start to healthy | RSS at rest | after 600 searches "
          "| peak while indexing | p50 / p99 sequential | lexical / dense stage p50 | p50 / p99 8 clients "
          "| first index, estimated |",
          "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n, x in res.items():
        v, f, fm, s = x["vault"] or {}, x["fill"] or {}, x["fill_measure"] or {}, x["serve"]
        st, seq, conc = s.get("index_status") or {}, s.get("sequential") or {}, s.get("concurrent") or {}
        est = f.get("estimated_first_index_s")
        rate = f.get("real_tokens_per_s")
        estimate = (f"{est / 3600:.1f} h at {rate:.0f} tokens/s ({f['threads']} threads)"
                    if est and rate else "")
        md.append(
            f"| {int(n):,} | {v.get('words', 0):,} | {st.get('chunks') or 0:,} "
            f"| {(st.get('index_size_bytes') or 0) / 2**20:.0f} MiB | {s.get('start_to_healthy_s', 0):.2f} s "
            f"| {s.get('rss_idle_mib') or 0:.0f} MiB | {s.get('rss_after_queries_mib') or 0:.0f} MiB "
            f"| {fm.get('time_peak_mib') or 0:.0f} MiB | {seq.get('p50_ms', 0):.1f} / {seq.get('p99_ms', 0):.1f} ms "
            f"| {stages(seq)} | {conc.get('p50_ms', 0):.0f} / {conc.get('p99_ms', 0):.0f} ms | {estimate} |")
    layouts = [(n, x) for n, x in res.items() if x.get("serve_prepacked")]
    if layouts:
        md += ["", "Serve memory by weight layout, same index, one run each (RSS MiB, anonymous in brackets):", "",
               "| notes | weights | at rest | right after 600 searches | 2 s later | p50 / p99 sequential | p50 / p99 8 clients |",
               "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
        for n, x in layouts:
            for label, s in (("lean at rest (default)", x["serve"]), ("always prepacked", x["serve_prepacked"])):
                def mem(key):
                    m = s.get(key) or {}
                    return f"{m.get('rss') or 0:.0f} ({m.get('anon') or 0:.0f})"
                seq, conc = s.get("sequential") or {}, s.get("concurrent") or {}
                md.append(f"| {int(n):,} | {label} | {mem('memory_idle')} | {mem('memory_after_queries')} "
                          f"| {mem('memory_later')} | {seq.get('p50_ms', 0):.1f} / {seq.get('p99_ms', 0):.1f} ms "
                          f"| {conc.get('p50_ms', 0):.0f} / {conc.get('p99_ms', 0):.0f} ms |")
    return md


def mb(mib):
    """MiB (what /proc reports) to MB (the targets' unit)."""
    return mib * 1.048576


def plots(out, full_series, serve):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    ax = axes[0]
    # A build that was stopped and resumed leaves its first part as index-part1.rss.csv.
    part1 = series(os.path.join(out, "index-part1.rss.csv"))
    offset = part1[-1][0] if part1 else 0.0
    if part1:
        ax.plot([t / 60 for t, _ in part1], [m for _, m in part1], lw=1, label="first part (batch budget 2,048)")
    if full_series:
        ax.plot([(offset + t) / 60 for t, _ in full_series], [m for _, m in full_series], lw=1,
                label="vault-rag index (10k notes)" if not part1 else "resumed (batch budget 512)")
    ax.set_xlabel("minutes")
    ax.set_ylabel("RSS (MiB)")
    ax.set_title("Indexing the 10,000-note vault (EmbeddingGemma int8, 2 threads)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax = axes[1]
    for name, label in (("vault_rag", "vault-rag index"), ("seed", "seed Python loop (ORT int8)"), ("st", "sentence-transformers fp32")):
        s = series(os.path.join(out, f"{name}.rss.csv"))
        if s:
            ax.plot([t for t, _ in s], [m for _, m in s], lw=1, label=label)
    ax.set_xlabel("seconds")
    ax.set_ylabel("RSS (MiB)")
    ax.set_title("Same sample, three processes")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "rss_indexing.png"), dpi=110)

    fig, ax = plt.subplots(figsize=(7, 4))
    seq = serve.get("sequential_latencies_ms") or []
    conc = serve.get("concurrent_latencies_ms") or []
    if seq or conc:
        top = max(seq + conc)
        bins = [top * i / 60 for i in range(61)]
        if seq:
            ax.hist(seq, bins=bins, alpha=0.6, label=f"sequential (n={len(seq)})")
        if conc:
            ax.hist(conc, bins=bins, alpha=0.6, label=f"8 concurrent clients (n={len(conc)})")
    ax.set_xlabel("POST /search latency (ms)")
    ax.set_ylabel("queries")
    ax.set_title("Hybrid search over HTTP, 10k-note index")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "latency.png"), dpi=110)


if __name__ == "__main__":
    main()
