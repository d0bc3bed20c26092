"""Writes fraud_sample.safetensors: the seed's FraudDetector(feature_dim=11, hidden_dims=[128, 64, 32]).

Tensor names are exactly the PyTorch state_dict of that module (nn.Sequential of Linear, ReLU,
BatchNorm1d, Dropout per hidden layer, so Linear at 0/4/8 and BatchNorm at 2/6/10, then
`classifier`), so reckon reads it the way it reads a real export. Weights are PyTorch's default
Linear init; BatchNorm statistics are perturbed away from (0, 1) so that folding them is
actually exercised. Deterministic: rerunning gives identical bytes.

    python3 -m venv .venv && .venv/bin/pip install numpy safetensors
    .venv/bin/python weights/sample/make_sample.py
"""

import json
import struct
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

FEATURES = [  # SPEC §4.4, in order
    "amount", "amount_log", "hour_of_day", "is_night", "is_international", "txn_count_1h",
    "txn_count_24h", "amount_sum_24h", "amount_deviation", "device_user_count", "new_device",
]
HIDDEN = [128, 64, 32]


def linear(rng, fan_in, fan_out):
    bound = 1.0 / np.sqrt(fan_in)  # torch.nn.Linear's default init range
    w = rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(np.float32)
    b = rng.uniform(-bound, bound, size=(fan_out,)).astype(np.float32)
    return w, b


def canonicalise_metadata_order(path):
    """safetensors writes `__metadata__` from a Rust HashMap, so key order (and the file's bytes)
    vary run to run. Rewrite the header with sorted metadata keys: same length, same offsets."""
    data = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    assert len(text) <= n, "re-serialised header must fit the original"
    data[8 : 8 + n] = text.ljust(n, b" ")  # safetensors pads headers with spaces
    path.write_bytes(bytes(data))


def main():
    rng = np.random.default_rng(20240611)
    tensors = {}
    prev = len(FEATURES)
    for layer, hidden in enumerate(HIDDEN):
        lin, bn = 4 * layer, 4 * layer + 2  # Linear, ReLU, BatchNorm1d, Dropout
        w, b = linear(rng, prev, hidden)
        tensors[f"network.{lin}.weight"] = w
        tensors[f"network.{lin}.bias"] = b
        tensors[f"network.{bn}.weight"] = (1.0 + 0.1 * rng.standard_normal(hidden)).astype(np.float32)
        tensors[f"network.{bn}.bias"] = (0.1 * rng.standard_normal(hidden)).astype(np.float32)
        tensors[f"network.{bn}.running_mean"] = (0.2 * rng.standard_normal(hidden)).astype(np.float32)
        tensors[f"network.{bn}.running_var"] = rng.uniform(0.5, 1.5, hidden).astype(np.float32)
        tensors[f"network.{bn}.num_batches_tracked"] = np.array(1000, dtype=np.int64)
        prev = hidden
    w, b = linear(rng, prev, 1)
    tensors["classifier.weight"] = w
    tensors["classifier.bias"] = b
    metadata = {"reckon.arch": "fraud", "reckon.feature_names": ",".join(FEATURES)}
    out = Path(__file__).with_name("fraud_sample.safetensors")
    save_file(tensors, str(out), metadata=metadata)
    canonicalise_metadata_order(out)
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(tensors)} tensors)")


if __name__ == "__main__":
    main()
