"""Export a PyTorch model (or its state_dict) to a reckon weight file.

    from export import export
    export(model, "fraud", "fraud.safetensors", dtype="bf16",
           metadata={"reckon.feature_names": FEATURES})

    python weights/export.py --arch fraud --in model.pt --out fraud.safetensors [--dtype bf16]
    python weights/export.py --self-test

The file is a plain safetensors file holding the state_dict under its own names, `reckon.arch`, and
any other metadata given. Before writing, the names are checked against the architecture with the
same rules reckon applies when it opens the file (src/weights/arch.rs, src/weights/schema.rs), so a
model that would not load is refused here, naming the first tensor that does not fit, instead of
later on a serving machine.

Casting: `dtype` (f32, f16, bf16) applies to float tensors only; integer tensors (BatchNorm's
`num_batches_tracked`, an index's ids) are never touched. Float64 tensors are written as f32 when no
dtype is given, since reckon computes in f32. The output is byte-for-byte reproducible: tensors and
metadata are written in sorted order (the safetensors library writes metadata in hash order).
"""

import argparse
import json
import math
import os
import re
import struct
import sys
import tempfile

import torch

ARCHS = ("two_tower", "ranker", "ltr", "fraud", "deepfm", "item_index")
DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
ST_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
            torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
            torch.uint8: "U8", torch.bool: "BOOL"}
RECKON_FLOATS = (torch.float32, torch.float16, torch.bfloat16)

# --- The name grammar, mirrored from src/weights/arch.rs -----------------------------------------
# A role is (kind, rank): kind "float" (F32/F16/BF16), "int" (I64) or "any" (either); rank an int,
# "scalar" ([] or [1]) or None (any).
LINEAR_WEIGHT, BIAS, EMBEDDING = ("float", 2), ("float", 1), ("float", 2)


def _linear(m):
    """A plain nn.Linear child: weight required, bias optional (bias=False)."""
    return [(f"{m}.weight", LINEAR_WEIGHT, True), (f"{m}.bias", BIAS, False)]


# arch -> (fixed [(name, role, required)], sequentials [(prefix, required)],
#          open prefixes [(prefix, role)], per-field embeddings)
LAYOUTS = {
    "two_tower": ([("user_embedding.weight", EMBEDDING, True), ("item_embedding.weight", EMBEDDING, True),
                   ("temperature", ("float", "scalar"), False)],
                  [("user_mlp", True), ("item_mlp", True)], [], False),
    # hidden_dims=[] gives an empty Sequential, which PyTorch saves as no tensors at all.
    "ranker": (_linear("click_head") + _linear("engage_head") + _linear("share_head"),
               [("shared", False)], [], False),
    "ltr": ([], [("model", True)], [], False),
    "fraud": (_linear("classifier"), [("network", False)], [], False),
    "deepfm": (_linear("linear"), [("dnn", True)], [("calibration.", ("float", None))], True),
    "item_index": ([("ids", ("int", 1), True), ("vectors", ("float", 2), True), ("category", ("int", 1), False)],
                   [], [("ivf.", ("any", None))], False),
}
SEQ_PARAMS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
BN_ONLY = ("running_mean", "running_var", "num_batches_tracked")
RANK_WORDS = {1: "rank 1", 2: "rank 2", "scalar": "one element ([] or [1])"}

# --- Metadata, mirrored from src/weights/metadata.rs ---------------------------------------------
KNOWN_KEYS = ("reckon.arch", "reckon.bn_eps", "reckon.score_weights", "reckon.feature_names",
              "reckon.calibration")
CALIBRATIONS = ("binned", "platt", "isotonic")


def _index(s):
    """A PyTorch child index: decimal, no sign, no leading zeros."""
    return int(s) if re.fullmatch(r"0|[1-9][0-9]*", s) else None


def _sequential_param(layout, name):
    for seq, _ in layout[1]:
        if name.startswith(seq + "."):
            parts = name[len(seq) + 1:].split(".", 1)
            if len(parts) == 2 and _index(parts[0]) is not None and parts[1] in SEQ_PARAMS:
                return seq, _index(parts[0]), parts[1]
    return None


def _field_embedding(layout, name):
    if layout[3] and name.startswith("embeddings.") and name.endswith(".weight"):
        return _index(name[len("embeddings."):-len(".weight")])
    return None


def _fixed_or_open(layout, name):
    for n, role, _ in layout[0]:
        if n == name:
            return role
    for prefix, role in layout[2]:
        if len(name) > len(prefix) and name.startswith(prefix):
            return role
    return None


def _check_role(name, t, role):
    kind, rank = role
    floaty, is_i64 = t.dtype in RECKON_FLOATS, t.dtype == torch.int64
    ok_dtype = {"float": floaty, "int": is_i64, "any": floaty or is_i64}[kind]
    if not ok_dtype:
        want = {"float": "a float dtype (F32, F16, BF16)", "int": "I64", "any": "F32, F16, BF16 or I64"}[kind]
        raise ValueError(f"tensor '{name}': dtype {ST_DTYPE.get(t.dtype, t.dtype)}, expected {want}")
    shape = list(t.shape)
    ok_rank = rank is None or (shape in ([], [1]) if rank == "scalar" else len(shape) == rank)
    if not ok_rank:
        raise ValueError(f"tensor '{name}': shape {shape}, expected {RANK_WORDS[rank]}")


def check_names(arch, tensors):
    """Raises ValueError for the first tensor of `tensors` (name -> torch tensor, dtypes as they will
    be written) that reckon would refuse for `arch`, in the order reckon reports them."""
    if arch not in LAYOUTS:
        raise ValueError(f"unknown arch '{arch}': expected one of {', '.join(ARCHS)}")
    layout = LAYOUTS[arch]
    children, fields = {}, set()
    for name in sorted(tensors):
        t = tensors[name]
        seq = _sequential_param(layout, name)
        if seq is not None:
            children.setdefault(seq[:2], {})[seq[2]] = (name, t)
        elif _field_embedding(layout, name) is not None:
            fields.add(_field_embedding(layout, name))
            _check_role(name, t, EMBEDDING)
        elif _fixed_or_open(layout, name) is not None:
            _check_role(name, t, _fixed_or_open(layout, name))
        else:
            hint = " (strip the 'module.' prefix that DataParallel adds)" if name.startswith("module.") else ""
            raise ValueError(f"tensor '{name}' is not part of a '{arch}' model{hint}")
    for (seq, index), params in sorted(children.items()):
        # The MLP rule (SPEC §2): a child with running statistics is a BatchNorm1d, else a Linear.
        is_bn = any(p in params for p in BN_ONLY)
        for param in sorted(params):
            name, t = params[param]
            if param == "num_batches_tracked":
                role = ("int", "scalar")
            else:
                role = ("float", 1 if is_bn or param != "weight" else 2)
            _check_role(name, t, role)
        for p in ("running_mean", "running_var") if is_bn else ("weight",):
            if p not in params:
                raise ValueError(f"'{arch}' model is missing tensor '{seq}.{index}.{p}'")
    for name, _, required in layout[0]:
        if required and name not in tensors:
            raise ValueError(f"'{arch}' model is missing tensor '{name}'")
    for seq, required in layout[1]:
        if required and not any(s == seq for s, _ in children):
            raise ValueError(f"'{arch}' model is missing tensor '{seq}.0.weight'")
    if layout[3]:
        gap = next(i for i in range(len(fields) + 1) if i not in fields)
        if gap < len(fields) or not fields:
            raise ValueError(f"'{arch}' model is missing tensor 'embeddings.{gap}.weight'")


def _metadata_value(key, value):
    """Metadata values are strings; lists become comma-separated. `reckon.*` values are checked as
    reckon parses them."""
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    value = str(value)
    if key == "reckon.bn_eps":
        ok = _finite(value) and float(value) > 0
    elif key == "reckon.score_weights":
        ok = all(_finite(v) for v in value.split(","))
    elif key == "reckon.feature_names":
        ok = all(v.strip() for v in value.split(","))
    elif key == "reckon.calibration":
        ok = value.strip() in CALIBRATIONS
    else:
        ok = True
    if not ok:
        raise ValueError(f"metadata '{key}': bad value '{value}'")
    return value


def _finite(s):
    try:
        return math.isfinite(float(s))
    except ValueError:
        return False


def _tensors(model_or_state_dict, dtype):
    state = model_or_state_dict.state_dict() if isinstance(model_or_state_dict, torch.nn.Module) else model_or_state_dict
    out = {}
    for name, t in state.items():
        if not isinstance(t, torch.Tensor):
            try:
                t = torch.as_tensor(t)  # numpy arrays
            except (TypeError, RuntimeError, ValueError):
                raise ValueError(f"tensor '{name}': not a tensor ({type(t).__name__})") from None
        t = t.detach().cpu()
        if t.is_floating_point():
            target = dtype if dtype is not None else (torch.float32 if t.dtype == torch.float64 else t.dtype)
            t = t.to(target)
        out[name] = t.contiguous()
    return out


def export(model_or_state_dict, arch, path, dtype=None, metadata=None):
    """Writes `model_or_state_dict` (an nn.Module, or a mapping of names to torch tensors or numpy
    arrays) to `path` as a reckon weight file for `arch`. `dtype` ("f32", "f16", "bf16" or a torch
    float dtype) casts float tensors; `metadata` adds keys: `reckon.*` ones are checked as reckon
    reads them, others are stored untouched (reckon ignores them). Raises ValueError, before
    writing anything, if a name, dtype or rank does not fit `arch`."""
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"dtype '{dtype}': expected one of {', '.join(DTYPES)}")
        dtype = DTYPES[dtype]
    if dtype is not None and dtype not in RECKON_FLOATS:
        raise ValueError(f"dtype {dtype}: expected f32, f16 or bf16")
    meta = {}
    for key, value in (metadata or {}).items():
        if key.startswith("reckon.") and key not in KNOWN_KEYS:
            raise ValueError(f"unknown metadata key '{key}': reckon knows {', '.join(KNOWN_KEYS)}")
        meta[key] = _metadata_value(key, value)
    if meta.setdefault("reckon.arch", arch) != arch:
        raise ValueError(f"metadata reckon.arch='{meta['reckon.arch']}' contradicts arch '{arch}'")
    tensors = _tensors(model_or_state_dict, dtype)
    check_names(arch, tensors)
    write_file(tensors, meta, path)


def write_file(tensors, metadata, path):
    """Writes `tensors` (name -> torch tensor) and `metadata` unchecked, in the safetensors layout:
    u64 header length, JSON header (space-padded to 8 bytes), data."""
    header = {"__metadata__": dict(sorted(metadata.items()))} if metadata else {}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name]
        blob = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": ST_DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)  # never leave a half-written model behind


def self_test():
    """Exports every seed module in every dtype, reads it back, and checks bad names are refused."""
    from safetensors import safe_open

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import seed_modules as sm

    models = {
        "two_tower": sm.TwoTower(20, 30, 8, (16, 8)),
        "ranker": sm.Ranker(12, (16, 8)),
        "ltr": sm.Ltr(10),
        "fraud": sm.Fraud(11, (16, 8)),
        "deepfm": sm.DeepFm([5, 7, 9], 4, (16, 8)),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for arch, m in models.items():
            for dt in (None, "f16", "bf16"):
                path = os.path.join(tmp, f"{arch}.safetensors")
                export(m, arch, path, dtype=dt, metadata={"reckon.bn_eps": 1e-5, "trained_by": "self-test"})
                with safe_open(path, "pt") as f:
                    assert f.metadata() == {"reckon.arch": arch, "reckon.bn_eps": "1e-05", "trained_by": "self-test"}
                    for name, want in m.state_dict().items():
                        got = f.get_tensor(name)
                        assert got.dtype == (want.dtype if not want.is_floating_point() or dt is None else DTYPES[dt]), name
                        assert torch.equal(got, want.to(got.dtype)), name
        bad = [
            ("fraud", {**models["fraud"].state_dict(), "network.0.wieght": torch.zeros(2, 2)}, "network.0.wieght"),
            ("ltr", models["fraud"].state_dict(), "classifier.bias"),
            ("ranker", {k: v for k, v in models["ranker"].state_dict().items() if k != "share_head.weight"},
             "share_head.weight"),
            ("fraud", {**models["fraud"].state_dict(), "network.2.num_batches_tracked": torch.tensor(3, dtype=torch.int32)},
             "network.2.num_batches_tracked"),
            ("deepfm", {k: v for k, v in models["deepfm"].state_dict().items() if k != "embeddings.1.weight"},
             "embeddings.1.weight"),
            ("ltr", {**models["ltr"].state_dict(), "model.01.weight": torch.zeros(2, 2)}, "model.01.weight"),
            ("two_tower", {**models["two_tower"].state_dict(), "temperature": torch.ones(2)}, "temperature"),
        ]
        for arch, state, culprit in bad:
            try:
                export(state, arch, os.path.join(tmp, "bad.safetensors"))
            except ValueError as e:
                assert f"'{culprit}'" in str(e), (culprit, str(e))
            else:
                raise AssertionError(f"{arch}: {culprit} was accepted")
        assert not os.path.exists(os.path.join(tmp, "bad.safetensors")), "a refused model was written"
        for meta in ({"reckon.acrh": "fraud"}, {"reckon.arch": "ltr"}, {"reckon.feature_names": ["a", ""]}):
            try:
                export(models["fraud"], "fraud", os.path.join(tmp, "bad.safetensors"), metadata=meta)
            except ValueError:
                pass
            else:
                raise AssertionError(f"metadata {meta} was accepted")
    print(f"export.py self-test: {len(models)} archs x 3 dtypes exported and read back; {len(bad)} bad names and 3 bad metadata refused")


def main(argv=None):
    p = argparse.ArgumentParser(description="Export a saved PyTorch state_dict as a reckon weight file.")
    p.add_argument("--arch", choices=ARCHS)
    p.add_argument("--in", dest="src", help="a state_dict saved with torch.save(model.state_dict(), PATH)")
    p.add_argument("--out", help="the .safetensors file to write")
    p.add_argument("--dtype", choices=sorted(DTYPES), help="cast float tensors (default: keep, f64 -> f32)")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="extra metadata (repeatable)")
    p.add_argument("--self-test", action="store_true", help="run the built-in checks and exit")
    args = p.parse_args(argv)
    if args.self_test:
        self_test()
        return 0
    if not (args.arch and args.src and args.out):
        p.error("--arch, --in and --out are required")
    metadata = dict(kv.split("=", 1) for kv in args.meta if "=" in kv)
    if len(metadata) != len(args.meta):
        p.error("--meta takes KEY=VALUE")
    state = torch.load(args.src, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # a training checkpoint
    if not isinstance(state, dict):
        p.error(f"{args.src} holds a {type(state).__name__}, not a state_dict")
    try:
        export(state, args.arch, args.out, dtype=args.dtype, metadata=metadata)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes, {len(state)} tensors, arch {args.arch})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
