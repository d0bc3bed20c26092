#!/usr/bin/env python3
"""reckon against ONNX Runtime and PyTorch on the same weights, one thread each, in one run.

    python3 benches/peers/compare.py            # full run (~3 min: cargo bench + peers)
    python3 benches/peers/compare.py --quick    # ~1 min: reckon's summary lines, fewer peer samples
    python3 benches/peers/compare.py --python /work/main/.venv/bin/python --models ranker,fraud

Prints one table: per model and batch, each engine's ns per row, reckon's ratio to each, and
PASS/FAIL against the SPEC §7 target and against ONNX Runtime. See README.md beside this file.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import peerenv

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
NEEDED = ("torch", "onnxruntime", "onnx", "numpy", "safetensors")

# (arch, SPEC §7 target ns per call at batch 1, target ns per row at batch 4096).
MODELS = [("two_tower", 1500, 400), ("ranker", 3000, 1600), ("ltr", 2500, 1350), ("fraud", 1000, 250), ("deepfm", 3000, 1200)]
BATCHES = [1, 256, 4096]
# Quick mode: rounds of reckon then ONNX Runtime per model (see main).
ROUNDS = 3


def median(values):
    v = sorted(values)
    return v[len(v) // 2]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="reckon from its summary lines (no criterion), fewer peer samples")
    p.add_argument("--python", help="run under this interpreter (one that already has torch, onnxruntime, ...)")
    p.add_argument("--models", default=",".join(m for m, _, _ in MODELS), help="comma-separated subset")
    p.add_argument("--batches", default=",".join(map(str, BATCHES)), help="comma-separated subset of 1,256,4096")
    p.add_argument("--reuse-criterion", action="store_true", help="read reckon's last criterion results, do not run cargo")
    return p.parse_args()


# --- environment --------------------------------------------------------------------------------

def ensure_environment(args):
    peerenv.ensure(NEEDED, os.path.abspath(__file__), args.python)


# --- reckon --------------------------------------------------------------------------------------

def criterion_dir():
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT,
                          check=True, capture_output=True, text=True)
    return os.path.join(json.loads(meta.stdout)["target_directory"], "criterion")


def reckon_times(cells, quick, reuse):
    """Seconds per call for each `(arch, rows)` in `cells`, from `cargo bench --bench models`.

    Full mode: criterion's median (`median.point_estimate` of
    `target/criterion/model/{arch}/b{rows}/new/estimates.json`, ns per iteration), with the bench
    filtered to exactly these ids. Quick mode: `MODELS_BENCH_QUICK=1` skips criterion and the
    bench's own `summary` lines give the median of 31 short samples."""
    ids = [f"model/{a}/b{r}" for a, r in cells]
    cmd = ["cargo", "bench", "--quiet", "--bench", "models", "--"]
    env = dict(os.environ)
    if quick:
        env["MODELS_BENCH_QUICK"] = "1"
        cmd += ids
    else:
        cmd += ["^(" + "|".join(re.escape(i) for i in ids) + ")$"]
    out = ""
    if not (reuse and not quick):
        print("running:", " ".join(cmd), file=sys.stderr)
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"cargo bench failed:\n{proc.stderr[-4000:]}")
        out = proc.stdout
    if quick:
        found = {m.group(1): float(m.group(2)) * 1e-9
                 for m in re.finditer(r"^summary (\S+): ([\d.]+) ns/call", out, re.M)}
        return {c: found.get(i) for c, i in zip(cells, ids)}
    root, times = criterion_dir(), {}
    for (arch, rows), i in zip(cells, ids):
        path = os.path.join(root, "model", arch, f"b{rows}", "new", "estimates.json")
        try:
            with open(path) as f:
                times[(arch, rows)] = json.load(f)["median"]["point_estimate"] * 1e-9
        except (OSError, KeyError, ValueError):
            times[(arch, rows)] = None
    return times


# --- table ---------------------------------------------------------------------------------------

def fmt(v, spec="{:.0f}"):
    return "-" if v is None else spec.format(v)


def print_table(rows):
    head = ["model", "batch", "reckon ns/row", "ORT ns/row", "torch ns/row", "ORT/reckon", "torch/reckon",
            "target", "vs target", "vs ORT"]
    body = []
    for arch, b, r, o, t, target, paired in rows:
        per_row = lambda s: None if s is None else s * 1e9 / b  # noqa: E731
        rr, orr, tr = per_row(r), per_row(o), per_row(t)
        ort_ratio = paired if paired is not None else (None if rr is None or orr is None else orr / rr)
        if b == 1:
            tgt, ok = f"<= {target[0]} ns/call", None if r is None else r * 1e9 <= target[0]
        elif b == 4096:
            tgt, ok = f"<= {target[1]} ns/row", None if rr is None else rr <= target[1]
        else:
            tgt, ok = "-", None
        verdict = lambda v: "-" if v is None else ("PASS" if v else "FAIL")  # noqa: E731
        body.append([
            arch, str(b), fmt(rr), fmt(orr), fmt(tr),
            fmt(ort_ratio, "{:.1f}x"),
            fmt(None if rr is None or tr is None else tr / rr, "{:.1f}x"),
            tgt, verdict(ok), verdict(None if ort_ratio is None else ort_ratio > 1.0),
        ])
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(c.rjust(w) if i > 0 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    print(line(head))
    print(line(["-" * w for w in widths]))
    for r in body:
        print(line(r))


def main():
    args = parse_args()
    ensure_environment(args)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import onnxruntime
    import torch

    import engines

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set by an earlier import; one thread is what matters
    models = [m for m in MODELS if m[0] in args.models.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    cells = [(a, b) for a, _, _ in models for b in batches]

    # Full mode: one criterion run for every cell. Quick mode: per model, ROUNDS rounds of
    # reckon's cells then ONNX Runtime's, and each cell reports the median of the per-round
    # ratios beside the median times: a machine whose speed drifts by tens of percent within a
    # minute (these VMs do) then moves both sides of each ratio instead of one.
    reckon = {} if args.quick else reckon_times(cells, False, args.reuse_criterion)
    ratios = {}
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for arch, b1, per_row in models:
            mine = [(arch, b) for b in batches]
            p = engines.Peers(arch, os.path.join(ROOT, "tests", "fixtures", f"{arch}_default.safetensors"), work)
            diff = p.check()
            print(f"{arch}: ONNX export matches PyTorch within {diff:.1e}", file=sys.stderr)
            rounds = []
            for _ in range(ROUNDS if args.quick else 1):
                r = reckon_times(mine, True, False) if args.quick else reckon
                o = {b: p.time_ort(b, args.quick) for b in batches}
                rounds.append((r, o))
                print(f"{arch}: " + ", ".join(
                    f"b{b} reckon {fmt(None if r.get((arch, b)) is None else r[(arch, b)] * 1e9)} ns, "
                    f"ORT {o[b] * 1e9:.0f} ns" for b in batches), file=sys.stderr)
            torch_t = {b: p.time_torch(b, args.quick) for b in batches}
            for b in batches:
                rs = [r.get((arch, b)) for r, _ in rounds]
                os_ = [o[b] for _, o in rounds]
                if args.quick:
                    reckon[(arch, b)] = None if None in rs else median(rs)
                    if None not in rs:
                        ratios[(arch, b)] = median([o / r for o, r in zip(os_, rs)])
                rows.append((arch, b, reckon.get((arch, b)), median(os_), torch_t[b], (b1, per_row),
                             ratios.get((arch, b))))
    how = (f"summary lines (MODELS_BENCH_QUICK), {ROUNDS} rounds alternating with ONNX Runtime per model: "
           "medians, and ORT/reckon as the median of the per-round ratios" if args.quick
           else "criterion median (estimates.json)")
    print(f"\nreckon: cargo bench --bench models, {how}; ONNX Runtime {onnxruntime.__version__} (Python API, "
          f"1 intra-op + 1 inter-op thread, ORT_ENABLE_ALL, sequential); PyTorch {torch.__version__} "
          f"(1 thread, eval, inference_mode); peers: median of short samples after warm-up; fixtures *_default\n")
    print_table(rows)


if __name__ == "__main__":
    main()
