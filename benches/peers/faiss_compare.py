#!/usr/bin/env python3
"""reckon's retrieval against FAISS on the same 1M x 64 clustered data, one thread each.

    python3 benches/peers/faiss_compare.py              # reckon's summary lines (quick bench)
    python3 benches/peers/faiss_compare.py --criterion  # reckon from criterion estimates
    python3 benches/peers/faiss_compare.py --reckon-log out.txt   # reuse a saved bench output

Data: the recipe of benches/retrieval.rs (counter-based splitmix64 + Box-Muller; 1000 Gaussian
centres; each vector normalize(centre + 1.0 * noise)), regenerated here with numpy, so both engines
see the same vectors up to the last bit of a libm call. FAISS: IndexFlatIP (exact, f32),
IndexScalarQuantizer bf16 where this FAISS has it, and IndexIVFFlat (inner product, 1024 lists)
at the smallest nprobe reaching recall@100 >= 0.95 against exact search, as reckon's bench
chooses its own. faiss.omp_set_num_threads(1). Needs numpy and faiss-cpu: run under an
interpreter that has them (`--python`), or the script makes and uses benches/peers/.venv from
requirements.txt, as compare.py does.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

# One thread everywhere: FAISS's OpenMP and whatever BLAS numpy/FAISS load.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import peerenv  # noqa: E402


def _python_arg():
    """`--python X` / `--python=X`, read before argparse: the interpreter must be right before
    numpy is imported."""
    argv = sys.argv[1:]
    for i, a in enumerate(argv):
        if a == "--python" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--python="):
            return a.split("=", 1)[1]
    return None


peerenv.ensure(("numpy", "faiss"), os.path.abspath(__file__), _python_arg())

import numpy as np  # noqa: E402  (after the thread settings, which BLAS reads at load)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

N, D, K, NQ = 1 << 20, 64, 100, 64
RECALL_QUERIES = 200
CLUSTERS, SIGMA = 1000, 1.0
NLIST = 1024
NPROBES = [1, 2, 4, 8, 16, 32, 64, 128]
MIN_RECALL = 0.95
# SPEC §7 targets (ms per query).
TARGETS = {"flat_f32": 18.0, "flat_bf16": 10.0, "batch_f32": 2.0, "ivf": 1.0}

M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def mix(stream, i):
    """splitmix64 of state ((stream << 40) | i) * golden, vectorised (uint64 wraps)."""
    with np.errstate(over="ignore"):
        z = ((np.uint64(stream) << np.uint64(40)) | i.astype(np.uint64)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform(stream, i):
    return ((mix(stream, i) >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def normal(stream, j):
    a, b = uniform(stream, 2 * j), uniform(stream, 2 * j + 1)
    return (np.sqrt(-2.0 * np.log(a)) * np.cos(2.0 * np.pi * b)).astype(np.float32)


def rows(n, assign_stream, noise_stream, chunk=1 << 16):
    centres = normal(1, np.arange(CLUSTERS * D, dtype=np.uint64)).reshape(CLUSTERS, D)
    out = np.empty((n, D), dtype=np.float32)
    for s in range(0, n, chunk):
        idx = np.arange(s, min(n, s + chunk), dtype=np.uint64)
        c = (mix(assign_stream, idx) % np.uint64(CLUSTERS)).astype(np.int64)
        j = (idx[:, None] * np.uint64(D) + np.arange(D, dtype=np.uint64)[None, :]).ravel()
        x = centres[c] + np.float32(SIGMA) * normal(noise_stream, j).reshape(-1, D)
        out[s:s + len(idx)] = x / np.sqrt((x * x).sum(axis=1, keepdims=True))
    return out


def median_time(f, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[reps // 2]


def recall(found, exact):
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, exact)]))


def faiss_times(data, queries):
    import faiss

    faiss.omp_set_num_threads(1)
    res = {}
    q0, batch, rq = queries[:1], queries[:NQ], queries[:RECALL_QUERIES]
    flat = faiss.IndexFlatIP(D)
    flat.add(data)
    res["flat_f32"] = median_time(lambda: flat.search(q0, K), 5) * 1e3
    res["batch_f32"] = median_time(lambda: flat.search(batch, K), 3) * 1e3 / NQ
    _, exact = flat.search(rq, K)
    print(f"faiss IndexFlatIP: {res['flat_f32']:.2f} ms/query, batch {res['batch_f32']:.3f} ms/query", file=sys.stderr)
    del flat
    qt = getattr(faiss.ScalarQuantizer, "QT_bf16", None)
    if qt is not None:
        sq = faiss.IndexScalarQuantizer(D, qt, faiss.METRIC_INNER_PRODUCT)
        sq.train(data)
        sq.add(data)
        res["flat_bf16"] = median_time(lambda: sq.search(q0, K), 5) * 1e3
        res["batch_bf16"] = median_time(lambda: sq.search(batch, K), 3) * 1e3 / NQ
        res["bf16_recall"] = recall(sq.search(rq, K)[1], exact)
        del sq
    t = time.perf_counter()
    quantizer = faiss.IndexFlatIP(D)
    ivf = faiss.IndexIVFFlat(quantizer, D, NLIST, faiss.METRIC_INNER_PRODUCT)
    ivf.train(data)
    ivf.add(data)
    print(f"faiss IndexIVFFlat build: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    for nprobe in NPROBES:
        ivf.nprobe = nprobe
        r = recall(ivf.search(rq, K)[1], exact)

        def one_at_a_time():
            for q in queries[:32]:
                ivf.search(q[None, :], K)

        us = median_time(one_at_a_time, 5) / 32 * 1e6
        print(f"faiss ivf nprobe {nprobe:>3}: recall@100 {r:.4f}, {us:.1f} us/query", file=sys.stderr)
        if r >= MIN_RECALL:
            res.update(ivf=us / 1e3, ivf_nprobe=nprobe, ivf_recall=r)
            break
    return res


# --- reckon -------------------------------------------------------------------------------------

def reckon_output(args):
    if args.reckon_log:
        with open(args.reckon_log) as f:
            return f.read()
    env = dict(os.environ)
    if not args.criterion:
        env["RETRIEVAL_QUICK"] = "1"
    cmd = ["cargo", "bench", "--bench", "retrieval"]
    print("running: " + " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    print(out, file=sys.stderr)
    return out


def criterion_ms(bench_id):
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT,
                          check=True, capture_output=True, text=True)
    path = os.path.join(json.loads(meta.stdout)["target_directory"], "criterion", "retrieval", *bench_id.split("/"),
                        "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"] / 1e6
    except OSError:
        return None


def reckon_times(text, use_criterion):
    res = {}
    for name, key in [("index_search_f32", "flat_f32"), ("index_search_bf16", "flat_bf16")]:
        m = re.search(rf"summary {name} 1Mx64 k100: ([\d.]+) ms", text)
        if m:
            res[key] = float(m.group(1))
        m = re.search(rf"summary {name.replace('search', 'search_batch')} 1Mx64 k100 b64: ([\d.]+) ms/query", text)
        if m:
            res[key.replace("flat", "batch")] = float(m.group(1))
    m = re.search(r"recall@100 vs f32 ([\d.]+)", text)
    if m:
        res["bf16_recall"] = float(m.group(1))
    m = re.search(r"summary index_search_ivf_f32 .* nprobe (\d+): ([\d.]+) us/query at recall@100 ([\d.]+)", text)
    if m:
        res.update(ivf_nprobe=int(m.group(1)), ivf=float(m.group(2)) / 1e3, ivf_recall=float(m.group(3)))
    if use_criterion:
        for key, bid, per in [("flat_f32", "index_search_f32/1Mx64_k100", 1),
                              ("flat_bf16", "index_search_bf16/1Mx64_k100", 1),
                              ("batch_f32", "index_search_batch_f32/1Mx64_k100_b64", NQ),
                              ("batch_bf16", "index_search_batch_bf16/1Mx64_k100_b64", NQ)]:
            ms = criterion_ms(bid)
            if ms is not None:
                res[key] = ms / per
        if "ivf_nprobe" in res:
            ms = criterion_ms(f"index_search_ivf_f32/1Mx64_k100_nlist{NLIST}_nprobe{res['ivf_nprobe']}")
            if ms is not None:
                res["ivf"] = ms
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--criterion", action="store_true", help="run reckon's full criterion bench and use its medians")
    p.add_argument("--reckon-log", help="parse this saved `cargo bench --bench retrieval` output instead of running it")
    p.add_argument("--skip-reckon", action="store_true", help="FAISS only")
    p.add_argument("--python", help="run under this interpreter (one that has numpy and faiss)")
    args = p.parse_args()

    reckon = {} if args.skip_reckon else reckon_times(reckon_output(args), args.criterion)
    t = time.perf_counter()
    data = rows(N, 2, 3)
    queries = rows(max(RECALL_QUERIES, NQ), 4, 5)
    print(f"data: {N} x {D} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    faiss_res = faiss_times(data, queries)

    def cell(res, key):
        v = res.get(key)
        return f"{v:10.3f}" if v is not None else f"{'-':>10}"

    print(f"\n1M x {D}, top-{K}, one thread (ms per query)")
    print(f"{'case':<28}{'reckon':>10}{'FAISS':>10}{'FAISS/reckon':>14}{'target':>9}")
    rows_ = [("exact f32, 1 query", "flat_f32"), ("exact bf16, 1 query", "flat_bf16"),
             ("exact f32, batch 64", "batch_f32"), ("exact bf16, batch 64", "batch_bf16"),
             ("IVF-Flat, recall>=0.95", "ivf")]
    for label, key in rows_:
        a, b = reckon.get(key), faiss_res.get(key)
        ratio = f"{b / a:14.2f}" if a and b else f"{'-':>14}"
        target = f"{TARGETS[key]:9.1f}" if key in TARGETS else f"{'':>9}"
        print(f"{label:<28}{cell(reckon, key)}{cell(faiss_res, key)}{ratio}{target}")
    for name, res in [("reckon", reckon), ("FAISS", faiss_res)]:
        extra = []
        if "ivf_nprobe" in res:
            extra.append(f"IVF nlist {NLIST} nprobe {res['ivf_nprobe']} recall@100 {res['ivf_recall']:.4f}")
        if "bf16_recall" in res:
            extra.append(f"bf16 recall@100 vs f32 {res['bf16_recall']:.4f}")
        if extra:
            print(f"{name}: " + "; ".join(extra))


if __name__ == "__main__":
    main()
