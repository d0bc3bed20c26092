"""The peers: the seed modules in PyTorch and the same modules exported to ONNX Runtime, built from
reckon's fixture files and timed one thread each.

Every module is rebuilt from `weights/seed_modules.py` with sizes read off the file's tensor shapes,
then `load_state_dict(strict=True)` from the very `.safetensors` reckon opens, so all three engines
compute the same function from the same weights.
"""

import os
import re
import sys
import time

import numpy as np
import onnxruntime as ort
import torch
import torch.nn as nn
from safetensors.torch import load_file

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "weights"))
import seed_modules as sm  # noqa: E402

OPSET = 17


def linear_shapes(state, prefix):
    """`(out, in)` of each Linear in the Sequential `prefix`, in index order."""
    pat = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.weight$")
    found = sorted((int(m.group(1)), tuple(v.shape)) for k, v in state.items() if (m := pat.match(k)) and v.dim() == 2)
    return [s for _, s in found]


class Served(nn.Module):
    """The call reckon serves, with one tensor argument: two-tower's user side only (embedding →
    MLP → L2 normalise, what reckon's bench times); the others' `forward` with its defaults (the
    ranker's score weights would otherwise become extra ONNX inputs)."""

    def __init__(self, model, user_tower):
        super().__init__()
        self.model = model
        self.user_tower = user_tower

    def forward(self, x):
        return self.model.user(x) if self.user_tower else self.model(x)


def build(arch, path):
    """The seed module for `arch` with the file's weights, in eval mode, plus what its input is:
    `("dense", cols)` or `("ids", [vocab per column])`."""
    state = load_file(path)
    if arch == "two_tower":
        users, dim = state["user_embedding.weight"].shape
        hidden = [o for o, _ in linear_shapes(state, "user_mlp")[:-1]]
        m = sm.TwoTower(users, state["item_embedding.weight"].shape[0], dim, tuple(hidden))
        spec = ("ids", [users])
    elif arch == "ranker":
        shapes = linear_shapes(state, "shared")
        m = sm.Ranker(shapes[0][1], tuple(o for o, _ in shapes))
        spec = ("dense", shapes[0][1])
    elif arch == "ltr":
        cols = state["model.0.weight"].shape[1]
        m = sm.Ltr(cols)
        spec = ("dense", cols)
    elif arch == "fraud":
        shapes = linear_shapes(state, "network")
        m = sm.Fraud(shapes[0][1], tuple(o for o, _ in shapes))
        spec = ("dense", shapes[0][1])
    elif arch == "deepfm":
        vocabs, f = [], 0
        while f"embeddings.{f}.weight" in state:
            vocabs.append(state[f"embeddings.{f}.weight"].shape[0])
            f += 1
        dim = state["embeddings.0.weight"].shape[1]
        hidden = [o for o, _ in linear_shapes(state, "dnn")[:-1]]
        m = sm.DeepFm(vocabs, dim, tuple(hidden))
        spec = ("ids", vocabs)
    else:
        raise ValueError(f"unknown arch {arch}")
    m.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=True)
    m.eval()
    return Served(m, arch == "two_tower").eval(), spec


def make_input(spec, rows, seed):
    """Deterministic pseudo-random rows: features uniform in [-2, 2), ids uniform within vocab."""
    rng = np.random.default_rng(seed)
    kind, arg = spec
    if kind == "dense":
        return rng.uniform(-2.0, 2.0, size=(rows, arg)).astype(np.float32)
    cols = np.stack([rng.integers(0, v, size=rows, dtype=np.int64) for v in arg], axis=1)
    return cols[:, 0].copy() if len(arg) == 1 else cols


def export_onnx(module, spec, path):
    """ONNX, opset 17, dynamic batch. The TorchScript exporter handles `dynamic_axes` directly;
    torch builds without it fall back to the dynamo exporter."""
    example = torch.from_numpy(make_input(spec, 2, 0))
    try:
        torch.onnx.export(
            module, (example,), path, input_names=["x"], output_names=["y"], opset_version=OPSET,
            dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, do_constant_folding=True, dynamo=False,
        )
    except (TypeError, RuntimeError, AttributeError):
        batch = torch.export.Dim("batch", min=1)
        torch.onnx.export(
            module, (example,), path, input_names=["x"], output_names=["y"], opset_version=OPSET,
            dynamic_shapes=({0: batch},), dynamo=True, external_data=False,
        )


def ort_session(path):
    """One intra-op thread, one inter-op thread, sequential execution, every graph optimisation."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


def time_call(fn, quick):
    """Median seconds per call: ~0.2 s of warm-up (0.05 s quick), then 31 samples (9 quick) of at
    least 2 ms (1 ms quick) each, the same method as reckon's summary lines. Short samples let
    some fall between a busy neighbour's time slices; the median ignores the ones that do not."""
    warm, samples, sample_s = (0.05, 9, 1e-3) if quick else (0.2, 31, 2e-3)
    t_end = time.perf_counter() + warm
    while time.perf_counter() < t_end:
        fn()
    iters = 1
    while True:
        t = time.perf_counter()
        for _ in range(iters):
            fn()
        if time.perf_counter() - t >= sample_s:
            break
        iters *= 2
    out = []
    for _ in range(samples):
        t = time.perf_counter()
        for _ in range(iters):
            fn()
        out.append((time.perf_counter() - t) / iters)
    return float(np.median(out))


class Peers:
    """PyTorch and ONNX Runtime for one fixture, ready to time at any batch."""

    def __init__(self, arch, path, workdir):
        self.module, self.spec = build(arch, path)
        onnx_path = os.path.join(workdir, f"{arch}.onnx")
        export_onnx(self.module, self.spec, onnx_path)
        self.session = ort_session(onnx_path)

    def check(self, rows=64):
        """Largest |ORT − PyTorch| over a batch: the export must compute the same function."""
        x = make_input(self.spec, rows, 1)
        with torch.inference_mode():
            want = self.module(torch.from_numpy(x)).numpy()
        got = self.session.run(None, {"x": x})[0]
        return float(np.max(np.abs(got - want)))

    def time_torch(self, rows, quick):
        x = torch.from_numpy(make_input(self.spec, rows, rows))
        with torch.inference_mode():
            return time_call(lambda: self.module(x), quick)

    def time_ort(self, rows, quick):
        feed = {"x": make_input(self.spec, rows, rows)}
        run = self.session.run
        return time_call(lambda: run(None, feed), quick)
