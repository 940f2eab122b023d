#!/usr/bin/env python3
"""Starts `vault-rag serve` on an indexed vault and measures it over HTTP:

  start to healthy   spawn → first 200 from GET /health; then until the start-up reconcile is idle
                     and until the model (loaded in the background) is ready
  query latency      POST /search (hybrid, top 10): sequential, then 8 concurrent clients
  memory             VmRSS from /proc while it runs (series), `rss_mb` of /health, time's peak

    serve_bench.py --bin BIN --vault V --data-dir D --queries Q --out DIR --name NAME -- EXTRA SERVE ARGS

Writes DIR/NAME.json (and DIR/NAME.rss.csv, DIR/NAME.time.txt through measure.py).
"""
import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def request(port, method, path, body=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        return resp.status, json.loads(payload) if payload else None
    finally:
        conn.close()


def percentile(values, q):
    s = sorted(values)
    if not s:
        return None
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(lat):
    return {
        "count": len(lat),
        "p50_ms": round(percentile(lat, 0.5), 2),
        "p90_ms": round(percentile(lat, 0.9), 2),
        "p99_ms": round(percentile(lat, 0.99), 2),
        "max_ms": round(max(lat), 2),
        "mean_ms": round(statistics.fmean(lat), 2),
    }


def stage_medians(log_path, offset):
    """Median time of each search stage (lexical, dense, hits, whole) in the log after `offset`."""
    with open(log_path, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        text = f.read()
    out = {}
    for key in ("lexical_ms", "dense_ms", "hits_ms", "took_ms"):
        values = [float(v) for v in re.findall(rf"\b{key}=([0-9.]+)", text)]
        out[key.removesuffix("_ms")] = round(statistics.median(values), 2) if values else None
    return out


def search(port, q):
    started = time.perf_counter()
    status, reply = request(port, "POST", "/search", {"query": q, "top_k": 10})
    ms = (time.perf_counter() - started) * 1e3
    ok = status == 200 and isinstance(reply, dict) and "hits" in reply
    return ms, ok


def proc_memory(pid_path):
    """RSS and its anonymous and file-backed parts (MiB) of the server, from /proc."""
    try:
        with open(pid_path) as f:
            pid = int(f.read())
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
    except (OSError, ValueError):
        return None
    kb = lambda key: round(int(status[key].split()[0]) / 1024, 1) if key in status else None
    return {"rss": kb("VmRSS"), "anon": kb("RssAnon"), "file": kb("RssFile")}


def portable(command):
    """The command as recorded: the checkout as ., the home folder as ~ (no machine's paths)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return command.replace(root + "/", "./").replace(os.path.expanduser("~") + "/", "~/")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--vault", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--no-latency", action="store_true", help="only start, reconcile, memory")
    ap.add_argument("extra", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    extra = a.extra[1:] if a.extra and a.extra[0] == "--" else a.extra
    queries = [q.strip() for q in open(a.queries, encoding="utf-8") if q.strip()]
    os.makedirs(a.out, exist_ok=True)
    stdout_path = os.path.join(a.out, f"{a.name}.stdout")
    pid_path = os.path.join(a.out, f"{a.name}.pid")
    for p in (stdout_path, pid_path):
        if os.path.exists(p):
            os.remove(p)
    cmd = [sys.executable, os.path.join(HERE, "measure.py"), "--name", a.name, "--out", a.out,
           "--interval", "0.1", "--stdout", stdout_path, "--pid-file", pid_path, "--",
           a.bin, "serve", "--vault", a.vault, "--data-dir", a.data_dir, "--port", "0", "--no-token", *extra]
    started = time.monotonic()
    log_path = os.path.join(a.out, f"{a.name}.log")
    # Each search's stage times are a debug line of the service's log (read back below).
    env = dict(os.environ, NO_COLOR="1")
    env.setdefault("VAULT_RAG_LOG", "info,vault_rag_index::search=debug")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(log_path, "w"), env=env)
    result = {"command": portable(" ".join(cmd[cmd.index("--") + 1:]))}
    try:
        port = None
        while port is None:
            if proc.poll() is not None:
                raise SystemExit(f"serve exited with {proc.returncode}; see {a.name}.log")
            try:
                with open(stdout_path) as f:
                    for line in f:
                        if '"listening"' in line:
                            port = json.loads(line)["port"]
            except OSError:
                pass
            time.sleep(0.01)
        result["listening_s"] = round(time.monotonic() - started, 3)
        while True:
            try:
                status, health = request(port, "GET", "/health", timeout=5)
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.01)
        result["start_to_healthy_s"] = round(time.monotonic() - started, 3)
        result["health_at_start"] = health
        # The start-up reconcile: the vault is scanned and compared with the index.
        while True:
            _, st = request(port, "GET", "/index/status")
            if st.get("state") in ("idle", "error") and st.get("complete"):
                break
            time.sleep(0.2)
        result["reconcile_done_s"] = round(time.monotonic() - started, 3)
        result["index_status"] = {k: st.get(k) for k in ("state", "notes_indexed", "chunks", "index_size_bytes", "complete")}
        # The model loads in the background; idle memory counts it loaded.
        while True:
            _, health = request(port, "GET", "/health")
            if health.get("model_loaded") or health.get("model", {}).get("state") == "failed":
                break
            time.sleep(0.05)
        result["model_ready_s"] = round(time.monotonic() - started, 3)
        if not health.get("model_loaded"):
            raise SystemExit(f"the model failed to load: {health.get('model')}")
        time.sleep(1)
        _, health = request(port, "GET", "/health")
        result["rss_idle_mib"] = health.get("rss_mb")
        result["memory_idle"] = proc_memory(pid_path)
        if not a.no_latency:
            for q in queries[:5]:  # warm-up, not counted
                search(port, q)
            mark = os.path.getsize(log_path)
            seq = [search(port, q) for q in queries]
            result["sequential"] = summary([ms for ms, _ in seq])
            result["sequential"]["stages_p50_ms"] = stage_medians(log_path, mark)
            result["sequential"]["errors"] = sum(1 for _, ok in seq if not ok)
            result["sequential_latencies_ms"] = [round(ms, 2) for ms, _ in seq]
            conc, lock = [], threading.Lock()

            def client(i):
                for q in queries[i:: a.clients]:
                    try:
                        r = search(port, q)
                    except OSError:
                        r = (0.0, False)
                    with lock:
                        conc.append(r)

            threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            result["concurrent"] = summary([ms for ms, ok in conc if ok] or [0.0])
            result["concurrent"].update(clients=a.clients, errors=sum(1 for _, ok in conc if not ok),
                                        requests=len(conc), queries_per_s=round(len(conc) / wall, 1))
            result["concurrent_latencies_ms"] = [round(ms, 2) for ms, ok in conc if ok]
            _, health = request(port, "GET", "/health")
            result["rss_after_queries_mib"] = health.get("rss_mb")
            result["memory_after_queries"] = proc_memory(pid_path)
            time.sleep(2)
            _, health = request(port, "GET", "/health")
            result["rss_later_mib"] = health.get("rss_mb")
            result["memory_later"] = proc_memory(pid_path)
        result["health_at_end"] = health
    finally:
        # SIGTERM to the server itself (measure.py waits for it and writes its files).
        try:
            with open(pid_path) as f:
                os.kill(int(f.read()), signal.SIGTERM)
        except (OSError, ValueError):
            proc.terminate()
        out, _ = proc.communicate(timeout=60)
        try:
            result["measure"] = json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            pass
        with open(os.path.join(a.out, f"{a.name}.json"), "w") as f:
            json.dump(result, f, indent=1)
    brief = {k: v for k, v in result.items() if not k.endswith("latencies_ms") and not k.startswith("health")}
    print(json.dumps(brief))


if __name__ == "__main__":
    main()
