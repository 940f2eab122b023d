#!/usr/bin/env python3
"""A local server that answers like the Hugging Face hub, for the download tests.

    fake_hub.py prepare --minilm DIR --out REPO_DIR
        Lays out the small MiniLM test model (DIR/model.onnx, DIR/tokenizer.json) as the hub's
        repository does, with the weights as external data: onnx/model_quantized.onnx +
        onnx/model_quantized.onnx_data, tokenizer.json, config.json. Needs the `onnx` package.

    fake_hub.py serve --repo ORG/NAME --dir REPO_DIR [--port 0]
        Serves that folder as the repository ORG/NAME and prints {"port": N} once listening.

What it answers, as the hub does:
  HEAD/GET /{repo}/resolve/{revision}/{file}
      small files: 200 with ETag (a git-style id), X-Repo-Commit, Content-Length, the body on GET;
      files of 1 MiB or more ("LFS"): 302 to an absolute /cdn/{sha256} address, with
      X-Linked-Etag (the sha256), X-Linked-Size and X-Repo-Commit; unknown files: 404.
  GET /cdn/{sha256}: the bytes, honouring `Range: bytes=N-` (206 with Content-Range).
Test controls (JSON): POST /_control {"throttle_bps": N, "corrupt": "file", "fail": "file"}
sets a rate limit for the bytes of LFS files, one file served with a flipped byte, a file
answered with 500; GET /_stats says how many body bytes each file sent and at which offset
each download of a large file started.
"""
import argparse
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS_MIN = 1 << 20


def prepare(minilm, out):
    import onnx

    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    model = onnx.load(os.path.join(minilm, "model.onnx"))
    graph = os.path.join(out, "onnx", "model_quantized.onnx")
    onnx.save_model(
        model,
        graph,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="model_quantized.onnx_data",
        size_threshold=1024,
    )
    with open(os.path.join(minilm, "tokenizer.json"), "rb") as src:
        data = src.read()
    with open(os.path.join(out, "tokenizer.json"), "wb") as dst:
        dst.write(data)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"model_type": "bert", "hidden_size": 384}, f)


class Hub:
    def __init__(self, repo, folder):
        self.repo = repo
        self.files = {}
        for root, _, names in os.walk(folder):
            for name in names:
                path = os.path.join(root, name)
                rel = os.path.relpath(path, folder).replace(os.sep, "/")
                with open(path, "rb") as f:
                    data = f.read()
                self.files[rel] = data
        self.by_sha = {hashlib.sha256(d).hexdigest(): rel for rel, d in self.files.items()}
        self.lock = threading.Lock()
        self.sent = {}
        self.starts = []
        self.throttle_bps = 0
        self.corrupt = None
        self.fail = None


def handler(hub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def reply(self, code, headers, body=b""):
            self.send_response(code)
            for k, v in headers.items():
                self.send_header(k, v)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and body:
                self.wfile.write(body)

        def do_HEAD(self):
            self.route()

        def do_GET(self):
            self.route()

        def do_POST(self):
            if self.path != "/_control":
                return self.reply(404, {})
            n = int(self.headers.get("Content-Length", "0"))
            ctl = json.loads(self.rfile.read(n) or b"{}")
            with hub.lock:
                hub.throttle_bps = int(ctl.get("throttle_bps", 0))
                hub.corrupt = ctl.get("corrupt")
                hub.fail = ctl.get("fail")
                if ctl.get("reset_stats"):
                    hub.sent = {}
                    hub.starts = []
            self.reply(200, {"Content-Type": "application/json"}, b"{}")

        def route(self):
            path = self.path.split("?", 1)[0]
            if path == "/_stats":
                with hub.lock:
                    body = json.dumps({"sent": hub.sent, "starts": hub.starts}).encode()
                return self.reply(200, {"Content-Type": "application/json"}, body)
            if path.startswith("/cdn/"):
                rel = hub.by_sha.get(path[len("/cdn/"):])
                if rel is None:
                    return self.reply(404, {})
                return self.send_file(rel)
            prefix = "/" + hub.repo + "/resolve/"
            if not path.startswith(prefix):
                return self.reply(404, {"X-Error-Code": "RepoNotFound"}, b"Repository not found")
            _, _, rel = path[len(prefix):].partition("/")
            data = hub.files.get(rel)
            if data is None:
                return self.reply(404, {"X-Error-Code": "EntryNotFound"}, b"Entry not found")
            if hub.fail == rel:
                return self.reply(500, {}, b"internal error")
            sha = hashlib.sha256(data).hexdigest()
            if len(data) >= LFS_MIN:
                host = self.headers.get("Host", "127.0.0.1")
                return self.reply(
                    302,
                    {
                        "Location": f"http://{host}/cdn/{sha}",
                        "X-Linked-Etag": f'"{sha}"',
                        "X-Linked-Size": str(len(data)),
                        "X-Repo-Commit": COMMIT,
                        "ETag": f'"{hashlib.sha1(data).hexdigest()}"',
                    },
                )
            git_id = hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()
            headers = {
                "ETag": f'"{git_id}"',
                "X-Repo-Commit": COMMIT,
                "Content-Length": str(len(data)),
            }
            self.send_response(200)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(data)
                self.count(rel, len(data))

        def count(self, rel, n):
            with hub.lock:
                hub.sent[rel] = hub.sent.get(rel, 0) + n

        def send_file(self, rel):
            data = hub.files[rel]
            start = 0
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes="):
                start = int(rng[len("bytes="):].split("-", 1)[0] or 0)
            if start >= len(data):
                return self.reply(416, {"Content-Range": f"bytes */{len(data)}"})
            with hub.lock:
                corrupt = hub.corrupt == rel
                if self.command == "GET":
                    hub.starts.append([rel, start])
            if corrupt:
                mid = len(data) // 2
                data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]
            code = 206 if start > 0 else 200
            self.send_response(code)
            self.send_header("Content-Length", str(len(data) - start))
            if start > 0:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if self.command == "HEAD":
                return
            pos = start
            step = 64 * 1024
            while pos < len(data):
                with hub.lock:
                    bps = hub.throttle_bps
                chunk = data[pos:pos + step]
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return
                self.count(rel, len(chunk))
                pos += len(chunk)
                if bps:
                    time.sleep(len(chunk) / bps)

    return Handler


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare")
    pp.add_argument("--minilm", required=True)
    pp.add_argument("--out", required=True)
    ps = sub.add_parser("serve")
    ps.add_argument("--repo", required=True)
    ps.add_argument("--dir", required=True)
    ps.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    if args.cmd == "prepare":
        prepare(args.minilm, args.out)
        return
    hub = Hub(args.repo, args.dir)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(hub))
    server.daemon_threads = True
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    # Ends with its parent: the tests close stdin or kill it.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
