#!/usr/bin/env python3
"""Runs a command under `/usr/bin/time -v` and samples its resident memory from /proc.

    measure.py --name NAME --out DIR [--interval 0.2] [--stdout FILE] -- CMD ARGS...

Writes DIR/NAME.rss.csv (seconds since start, RSS in MiB of the command's processes, summed) and
DIR/NAME.time.txt (time's report: peak RSS, CPU seconds, wall time). Prints one JSON line with the
exit status, wall seconds, sampled peak and time's peak. The command's stdout goes to --stdout
(default: inherited). With --pid-file, the command's process id is written there (for a caller
that has to talk to it, e.g. a server).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children(p))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--interval", type=float, default=0.2)
    ap.add_argument("--stdout")
    ap.add_argument("--pid-file")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    os.makedirs(a.out, exist_ok=True)
    time_path = os.path.join(a.out, f"{a.name}.time.txt")
    stdout = open(a.stdout, "w") if a.stdout else None
    start = time.monotonic()
    proc = subprocess.Popen(["/usr/bin/time", "-v", "-o", time_path, *cmd], stdout=stdout)
    samples = []
    reported = False
    # Written as it goes: a long run that is stopped still leaves its series.
    series = open(os.path.join(a.out, f"{a.name}.rss.csv"), "w")
    series.write("seconds,rss_mib\n")
    while proc.poll() is None:
        # time's own process is tiny and constant: count only what it runs.
        pids = [p for p in tree(proc.pid) if p != proc.pid]
        if a.pid_file and pids and not reported:
            with open(a.pid_file, "w") as f:
                f.write(f"{pids[0]}\n")
            reported = True
        kib = sum(rss_kib(p) for p in pids)
        if kib:
            samples.append((time.monotonic() - start, kib / 1024))
            series.write(f"{samples[-1][0]:.2f},{samples[-1][1]:.1f}\n")
            series.flush()
        time.sleep(a.interval)
    wall = time.monotonic() - start
    series.close()
    peak_time = None
    try:
        with open(time_path) as f:
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
            peak_time = int(m.group(1)) / 1024 if m else None
    except OSError:
        pass
    print(json.dumps({
        "name": a.name,
        "rc": proc.returncode,
        "wall_seconds": round(wall, 2),
        "sampled_peak_mib": round(max((m for _, m in samples), default=0), 1),
        "time_peak_mib": None if peak_time is None else round(peak_time, 1),
        "samples": len(samples),
    }))
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
