"""Writes reckon's parity fixtures: for every architecture, two configurations (the seed's default
layer sizes and a different one), random weights with randomised BatchNorm statistics, inputs that
include extreme but finite values, and PyTorch `eval()` outputs.

    python3 -m venv .venv && .venv/bin/pip install torch numpy safetensors
    .venv/bin/python weights/make_fixtures.py            # writes tests/fixtures/

Each fixture is two files: `NAME.safetensors` (the model, exactly as a user exports it) and
`NAME.io.safetensors` (inputs and PyTorch outputs). The f16/bf16 variants hold the same model with
weights rounded to 16 bits. Expected outputs are PyTorch `eval()` in float64 from the file's own
weights (rounded to 16 bits where the file is), the semantics reckon promises: stored weights,
arithmetic at least as good as f32.
Seeded: running it again writes byte-identical files.
"""

import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seed_modules as sm  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
ROWS = 9


def dense_inputs(gen, cols):
    """Random rows plus rows of extreme-but-finite values (large, tiny, zero, mixed signs)."""
    x = torch.randn(ROWS, cols, generator=gen) * 2.0
    x[0] = 0.0
    x[1] = 1e4
    x[2, ::2], x[2, 1::2] = -3e3, 1e-30
    x[3] = torch.linspace(-50.0, 50.0, cols)
    return x


def id_inputs(gen, vocab_sizes):
    cols = [torch.randint(0, v, (ROWS,), generator=gen) for v in vocab_sizes]
    ids = torch.stack(cols, dim=1)
    ids[0] = 0
    ids[1] = torch.tensor([v - 1 for v in vocab_sizes])
    return ids


def save_model(model, arch, name, dtype, metadata=None):
    state = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    meta = {"reckon.arch": arch, **(metadata or {})}
    save_file(state, os.path.join(OUT, f"{name}.safetensors"), metadata=meta)


def reference(model, dtype, fn):
    """PyTorch `eval()` evaluated in float64 from the file's weights (16-bit weights rounded first):
    the exact answer that PyTorch-f32 and reckon both approximate. PyTorch's own f32 output can sit
    1e-5 away from it where a model cancels large terms (DeepFM's FM term), so it is no reference."""
    rounded = {k: (v.to(dtype).to(torch.float64) if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    m64 = _clone_as(model, rounded)
    with torch.no_grad():
        return {k: (v.to(torch.float32) if v.is_floating_point() else v) for k, v in fn(m64, torch.float64).items()}


def _clone_as(model, state):
    import copy

    clone = copy.deepcopy(model).to(torch.float64)
    clone.load_state_dict(state)
    return clone.eval()


def fixture(name, arch, model, dtypes, io_fn, metadata=None):
    model.eval()
    for dtype in dtypes:
        suffix = {torch.float32: "", torch.float16: "_f16", torch.bfloat16: "_bf16"}[dtype]
        save_model(model, arch, name + suffix, dtype, metadata)
        io = reference(model, dtype, io_fn)
        save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(OUT, f"{name}{suffix}.io.safetensors"))


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20261127)
    torch.manual_seed(20261127)
    all_dtypes = [torch.float32, torch.float16, torch.bfloat16]

    def dense(model, cols, extra=None):
        x = dense_inputs(gen, cols)

        def run(m, dt):
            out = m(x.to(dt)) if extra is None else m(x.to(dt), extra)
            return {"input": x, "output": out.to(torch.float32)}

        return run

    # two_tower: the seed's layer sizes (64, [128, 64]) with small vocabularies; and [80, 40] x 32.
    for name, users, items, dim, hidden, dts in [
        ("two_tower_default", 200, 300, 64, (128, 64), all_dtypes),
        ("two_tower_alt", 97, 211, 32, (80, 40), [torch.float32]),
    ]:
        m = sm.TwoTower(users, items, dim, hidden)
        sm.randomise_batchnorm(m, gen)
        uid = id_inputs(gen, [users])[:, 0]
        iid = id_inputs(gen, [items])[:, 0]

        def run(mm, dt, uid=uid, iid=iid):
            return {"user_ids": uid, "user_vectors": mm.user(uid).float(), "item_ids": iid, "item_vectors": mm.item(iid).float()}

        fixture(name, "two_tower", m, dts, run)

    # ranker: 192 features, [256, 128, 64]; alt 100 features, [64, 32] with custom score weights.
    m = sm.Ranker(192)
    sm.randomise_batchnorm(m, gen)
    fixture("ranker_default", "ranker", m, all_dtypes, dense(m, 192))
    m = sm.Ranker(100, (64, 32))
    sm.randomise_batchnorm(m, gen)
    fixture("ranker_alt", "ranker", m, [torch.float32], dense(m, 100, (0.5, 1.0, 4.0)), {"reckon.score_weights": "0.5,1,4"})

    # ltr: 136 features (MSLR-style); alt 46 features (LETOR-style).
    for name, cols, dts in [("ltr_default", 136, all_dtypes), ("ltr_alt", 46, [torch.float32])]:
        m = sm.Ltr(cols)
        fixture(name, "ltr", m, dts, dense(m, cols))

    # fraud: the seed's 11 features, [128, 64, 32]; alt [64, 16].
    for name, hidden, dts in [("fraud_default", (128, 64, 32), all_dtypes), ("fraud_alt", (64, 16), [torch.float32])]:
        m = sm.Fraud(11, hidden)
        sm.randomise_batchnorm(m, gen)
        fixture(name, "fraud", m, dts, dense(m, 11))

    # deepfm: 10 fields x 8 (vocabularies cut to 400 to keep fixtures small); alt 26 fields x 16,
    # vocabularies of different sizes, [128, 64].
    for name, vocabs, dim, hidden, dts in [
        ("deepfm_default", [400] * 10, 8, (256, 128, 64), all_dtypes),
        ("deepfm_alt", [11 + 7 * i for i in range(26)], 16, (128, 64), [torch.float32]),
    ]:
        m = sm.DeepFm(vocabs, dim, hidden)
        sm.randomise_batchnorm(m, gen)
        ids = id_inputs(gen, vocabs)

        def run(mm, dt, ids=ids):
            return {"input": ids, "output": mm(ids).to(torch.float32)}

        fixture(name, "deepfm", m, dts, run)

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1e6:.2f} MB, to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
