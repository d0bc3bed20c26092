"""Trains the demo weights for `reckon demo`: small versions of the five seed models, trained briefly
on CPU on synthetic data with real signal, exported to weights/demo/ with export.py, plus the
request sets the demo replays (weights/demo/requests/) and weights/demo/README.md with the metrics.

    .venv/bin/python weights/train_demo.py          # about a minute on one core

Seeded, one thread: rerunning it gives the same files on the same machine and PyTorch version.
Every generator and its constants live in this file; the README it writes repeats them.
"""

import collections
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import seed_modules as sm  # noqa: E402
from export import export, write_file  # noqa: E402

OUT = os.path.join(HERE, "demo")
REQ = os.path.join(OUT, "requests")
SEED = 20261128
T0 = 1_767_225_600  # 2026-01-01 00:00 UTC, so hour_of_day is the UTC hour
FRAUD_FEATURES = ["amount", "amount_log", "hour_of_day", "is_night", "is_international", "txn_count_1h",
                  "txn_count_24h", "amount_sum_24h", "amount_deviation", "device_user_count", "new_device"]
RANKER_CONTEXT = ["hour_sin", "hour_cos", "is_mobile", "position"]
DEEPFM_FIELDS = ["ad_id", "advertiser", "site", "app_category", "hour", "device_type", "user_segment",
                 "city", "ad_category", "os"]
DEEPFM_VOCABS = [1000, 500, 300, 200, 24, 50, 800, 400, 150, 60]


# --- metrics (SPEC §4.6 definitions) --------------------------------------------------------------
def auc(y, s):
    """ROC-AUC with tied scores sharing their average rank."""
    y, s = np.asarray(y, bool), np.asarray(s, np.float64)
    _, inv, counts = np.unique(s, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inv]
    npos = y.sum()
    return float((ranks[y].sum() - npos * (npos + 1) / 2) / (npos * (len(y) - npos)))


def pr_auc(y, s):
    """Average precision: mean precision at the rank of each positive."""
    y = np.asarray(y, bool)[np.argsort(-np.asarray(s), kind="stable")]
    hits = np.cumsum(y)
    return float((hits[y] / (np.flatnonzero(y) + 1)).mean())


def ndcg_at(rel_by_query, k=10):
    """Mean NDCG@k over queries with any relevant document; gain 2^r-1, discount log2(i+2).
    Each item of `rel_by_query` is the true grades in the order the ranker put them."""
    disc = 1.0 / np.log2(np.arange(k) + 2)
    out = []
    for rel in rel_by_query:
        ideal = np.sort(rel)[::-1][:k]
        idcg = ((2.0 ** ideal - 1) * disc[:len(ideal)]).sum()
        if idcg > 0:
            out.append(((2.0 ** rel[:k] - 1) * disc[:min(k, len(rel))]).sum() / idcg)
    return float(np.mean(out))


def ece(y, p, bins=10):
    """Expected calibration error over equal-width probability bins."""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(p[idx == b].mean() - y[idx == b].mean()) * (idx == b).mean()
                     for b in range(bins) if (idx == b).any()))


def fit(model, batches, epochs, lr, loss_fn, weight_decay=0.0):
    """Adam over `batches()` (a fresh shuffled iterable per epoch); returns the last epoch's mean loss."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    for _ in range(epochs):
        total, n = 0.0, 0
        for batch in batches():
            loss = loss_fn(model, *batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, n = total + loss.item(), n + 1
    model.eval()
    return total / n


def shuffled(n, size, *arrays):
    """Minibatches of `arrays` (torch tensors) in a fresh random order."""
    def gen():
        perm = torch.randperm(n)
        for i in range(0, n, size):
            yield tuple(a[perm[i:i + size]] for a in arrays)
    return gen


def normalised(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --- two-tower ------------------------------------------------------------------------------------
def two_tower(rng):
    users, items, clusters, latent, per_user, held = 2000, 10000, 20, 16, 30, 5
    centres = rng.normal(size=(clusters, latent))
    ucl, icl = rng.integers(0, clusters, users), rng.integers(0, clusters, items)
    u_true = normalised(centres[ucl] + 0.6 * rng.normal(size=(users, latent)))
    i_true = normalised(centres[icl] + 0.6 * rng.normal(size=(items, latent)))
    log_pop = rng.normal(0, 1.0, items)  # lognormal item popularity
    # Each user picks 30 distinct items with probability ∝ popularity · exp(affinity / 0.1).
    logits = torch.tensor(u_true @ i_true.T / 0.1 + log_pop)
    picks = torch.multinomial(torch.softmax(logits, 1), per_user, replacement=False,
                              generator=torch.Generator().manual_seed(SEED)).numpy()
    train_u = np.repeat(np.arange(users), per_user - held)
    train_i = picks[:, held:].reshape(-1)
    test_i = picks[:, :held]

    m = sm.TwoTower(users, items, 32, (64, 32))
    with torch.no_grad():
        m.temperature.fill_(0.05)  # normalised vectors need a sharp softmax from the start
        for e in (m.user_embedding, m.item_embedding):  # with N(0,1) rows, Adam's steps are too small
            e.weight.normal_(0, 0.1)                     # to move an id seen ~40 times

    def loss(model, u, i):
        scores = model.user(u) @ model.item(i).T / model.temperature.clamp(min=0.01)
        return F.cross_entropy(scores, torch.arange(len(u)))

    final = fit(m, shuffled(len(train_u), 512, torch.tensor(train_u), torch.tensor(train_i)), 8, 5e-3, loss)
    with torch.no_grad():
        uv, iv = m.user(torch.arange(users)).numpy(), m.item(torch.arange(items)).numpy()
    scores = uv @ iv.T
    seen = np.zeros((users, items), bool)
    seen[train_u, train_i] = True
    scores[seen] = -np.inf  # as served: a user's training items are excluded
    top = np.argpartition(-scores, 100, axis=1)[:, :100]
    top10 = np.argsort(-scores, axis=1)[:, :10]
    recall = np.mean([np.isin(test_i[u], top[u]).mean() for u in range(users)])
    pop = np.bincount(train_i, minlength=items).astype(float)
    pop_scores = np.where(seen, -np.inf, pop[None, :])
    pop_top = np.argpartition(-pop_scores, 100, axis=1)[:, :100]
    pop_recall = np.mean([np.isin(test_i[u], pop_top[u]).mean() for u in range(users)])
    oracle = np.where(seen, -np.inf, u_true @ i_true.T / 0.1 + log_pop)  # the generator's own odds
    oracle_top = np.argpartition(-oracle, 100, axis=1)[:, :100]
    oracle_recall = np.mean([np.isin(test_i[u], oracle_top[u]).mean() for u in range(users)])
    cluster_p10 = (icl[top10] == ucl[:, None]).mean()
    export(m, "two_tower", os.path.join(OUT, "two_tower.safetensors"),
           metadata={"demo.clusters": clusters, "demo.made_by": "weights/train_demo.py"})
    sample = np.arange(0, users, 10)  # every 10th user's held-out items
    write_file({"user_cluster": torch.tensor(ucl), "item_cluster": torch.tensor(icl),
                "heldout_user": torch.tensor(np.repeat(sample, held)),
                "heldout_item": torch.tensor(test_i[sample].reshape(-1))}, {}, os.path.join(REQ, "two_tower.safetensors"))
    metrics = [f"final train loss (in-batch softmax, batch 512): {final:.3f}; learnt temperature {m.temperature.item():.4f}",
               f"held-out recall@100 over all {items} items (training items excluded): {recall:.3f} "
               f"(generator's true odds {oracle_recall:.3f}, popularity {pop_recall:.3f}, random {100 / items:.3f})",
               f"precision@10 of 'item in the user's cluster': {cluster_p10:.3f} (random {1 / clusters:.3f})"]
    how = (f"{users} users and {items} items, each in one of {clusters} clusters (uniform). Hidden {latent}-d "
           f"taste vectors: cluster centre (N(0,I)) + 0.6·N(0,I), L2-normalised. Each user picks {per_user} distinct "
           f"items with probability ∝ exp(log-popularity + cosine/0.1), log-popularity ~ N(0,1); {held} per user are "
           f"held out. Model: seed TwoTower(embedding_dim=32, hidden_dims=[64, 32]), in-batch-negative softmax "
           f"(the seed's loss) with the learnable temperature started at 0.05, embeddings started at N(0, 0.1²), "
           f"Adam lr 5e-3, batch 512, 8 epochs "
           f"over {len(train_u)} pairs. Metadata `demo.clusters`. Requests: `requests/two_tower.safetensors` holds "
           f"`user_cluster` [{users}], `item_cluster` [{items}] and `heldout_user`/`heldout_item` (i64 pairs of every "
           f"10th user's held-out items).")
    return metrics, how, uv, iv, top


# --- ranker ---------------------------------------------------------------------------------------
def ranker(rng, uv, iv, top):
    users, dim = uv.shape
    rows, test_rows = 60000, 20000
    n = rows + test_rows
    u = rng.integers(0, users, n)
    # Half the rows are retrieval candidates (the user's top 100), half random items: a ranker sees both.
    cand = top[u, rng.integers(0, top.shape[1], n)]
    is_cand = rng.random(n) < 0.5
    i = np.where(is_cand, cand, rng.integers(0, iv.shape[0], n))
    hour = rng.integers(0, 24, n)
    mobile = (rng.random(n) < 0.6).astype(float)
    position = rng.integers(0, 10, n) / 10.0
    ctx = np.stack([np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24), mobile, position], 1)
    x = np.concatenate([uv[u], iv[i], uv[u] * iv[i], ctx], 1).astype(np.float32)
    aff = (uv[u] * iv[i]).sum(1)
    quality = iv[i] @ normalised(rng.normal(size=(1, dim)))[0] * math.sqrt(dim)  # a hidden item trait
    noise = lambda: rng.normal(0, 0.5, n)  # noqa: E731
    click = rng.random(n) < 1 / (1 + np.exp(-(5 * aff - 4.5 - 1.5 * position + 0.4 * ctx[:, 1] + 0.3 * mobile + noise())))
    engage = click & (rng.random(n) < 1 / (1 + np.exp(-(3 * aff + 0.8 * quality - 0.5 * mobile - 2.5 + noise()))))
    share = engage & (rng.random(n) < 1 / (1 + np.exp(-(1.5 * quality + 2 * aff - 3.5 + noise()))))
    y = np.stack([click, engage, share], 1).astype(np.float32)

    m = sm.Ranker(x.shape[1], (64, 32))
    heads = lambda model, xb: torch.cat([h(model.shared(xb)) for h in  # noqa: E731
                                         (model.click_head, model.engage_head, model.share_head)], 1)
    xt, yt = torch.tensor(x), torch.tensor(y)
    final = fit(m, shuffled(rows, 512, xt[:rows], yt[:rows]), 6, 2e-3,
                lambda model, xb, yb: F.binary_cross_entropy_with_logits(heads(model, xb), yb))
    with torch.no_grad():
        p = m(xt).numpy()
    metrics = [f"final train loss (mean of the 3 heads' BCE): {final:.4f}; a = u·v averages "
               f"{aff[is_cand].mean():.2f} on retrieved candidates, {aff[~is_cand].mean():.2f} on random items"]
    for k, name in enumerate(["click", "engage", "share"]):
        tr, te = auc(y[:rows, k], p[:rows, k]), auc(y[rows:, k], p[rows:, k])
        metrics.append(f"{name}: positive rate {y[:, k].mean():.3f}, AUC train {tr:.3f} / held-out {te:.3f}")
    export(m, "ranker", os.path.join(OUT, "ranker.safetensors"),
           metadata={"demo.features": f"u[{dim}],v[{dim}],u*v[{dim}],context[{len(RANKER_CONTEXT)}]",
                     "demo.context_features": ",".join(RANKER_CONTEXT), "demo.made_by": "weights/train_demo.py"})
    how = (f"Features are SPEC §4.2's default assembly `[u, v, u⊙v, context]` with u, v the trained two-tower's "
           f"user/item vectors ({dim}-d) and {len(RANKER_CONTEXT)} context features `{','.join(RANKER_CONTEXT)}` "
           f"(hour h uniform 0..23 → sin/cos(2πh/24); is_mobile ~ Bernoulli(0.6); position = slot/10, slot 0..9), "
           f"so feature_dim = {x.shape[1]} (metadata `demo.features`, `demo.context_features`). Rows: a random "
           f"user with, half the time, one of its top-100 retrieved items, else a random item. With a = u·v and a "
           f"hidden item quality q (v projected on a fixed random direction, ×√{dim}) and N(0, 0.5) noise per "
           f"head: click ~ σ(5a − 4.5 − 1.5·position + 0.4·hour_cos + 0.3·is_mobile), engage = click ∧ "
           f"σ(3a + 0.8q − 0.5·is_mobile − 2.5), share = engage ∧ σ(1.5q + 2a − 3.5). Model: seed Ranker("
           f"{x.shape[1]}, hidden_dims=[64, 32]), mean BCE over the three heads' logits, Adam lr 2e-3, batch "
           f"512, 6 epochs over {rows} rows; {test_rows} held out. Score weights: the default 1,2,3.")
    return metrics, how


# --- ltr ------------------------------------------------------------------------------------------
def ltr(rng):
    feats, docs, train_q, test_q = 136, 20, 1500, 300
    nq = train_q + test_q
    qfeat = rng.normal(size=(nq, 1, 10))  # query-level features, shared by a query's documents
    x = np.concatenate([np.repeat(qfeat, docs, 1), rng.normal(size=(nq, docs, feats - 10))], 2)
    w = np.where(rng.random(feats) < 0.15, rng.normal(0, 1, feats), rng.normal(0, 0.05, feats))
    score = (x @ w + 1.5 * np.tanh(x[..., 10] * x[..., 11]) + 0.7 * (x[..., 12] ** 2 - 1)
             + 0.8 * x[..., 0] * x[..., 13] + rng.normal(0, 0.7, (nq, docs)))
    cuts = np.quantile(score, [0.5, 0.75, 0.9, 0.97])  # grade mix 50/25/15/7/3 %
    rel = np.searchsorted(cuts, score).astype(np.int64)
    x = x.astype(np.float32)

    m = sm.Ltr(feats)

    def listnet(model, xb, rb):  # cross-entropy between softmax(scores) and softmax(grades)
        return -(torch.softmax(rb, 1) * torch.log_softmax(model(xb), 1)).sum(1).mean()

    xt, rt = torch.tensor(x), torch.tensor(rel, dtype=torch.float32)
    final = fit(m, shuffled(train_q, 32, xt[:train_q], rt[:train_q]), 10, 1e-3, listnet, weight_decay=1e-5)
    with torch.no_grad():
        s = m(xt).numpy()
    order = lambda sc: [rel[q][np.argsort(-sc[q], kind="stable")] for q in range(len(sc))]  # noqa: E731
    ranked = order(s)
    rand = order(rng.random((nq, docs)))
    metrics = [f"final train ListNet loss: {final:.4f}",
               f"NDCG@10 train {ndcg_at(ranked[:train_q]):.3f} / held-out {ndcg_at(ranked[train_q:]):.3f} "
               f"(random order {ndcg_at(rand[train_q:]):.3f}, ideal 1.0)",
               "grade mix: " + ", ".join(f"{g}: {np.mean(rel == g):.2f}" for g in range(5))]
    export(m, "ltr", os.path.join(OUT, "ltr.safetensors"), metadata={"demo.made_by": "weights/train_demo.py"})
    demo_q = np.arange(train_q, train_q + 20)
    write_file({"features": torch.tensor(x[demo_q].reshape(-1, feats)),
                "qid": torch.tensor(np.repeat(demo_q - train_q, docs)),
                "relevance": torch.tensor(rel[demo_q].reshape(-1))}, {}, os.path.join(REQ, "ltr.safetensors"))
    how = (f"{nq} queries × {docs} documents × {feats} features (MSLR-WEB's width): features 0–9 are per query "
           f"(same for all its documents), the rest per document, all N(0,1). Hidden relevance score: x·w "
           f"(15% of w ~ N(0,1), the rest N(0, 0.05)) + 1.5·tanh(x10·x11) + 0.7·(x12² − 1) + 0.8·x0·x13 + N(0, 0.7); "
           f"graded 0–4 at its 50/75/90/97% quantiles. Model: seed Ltr(136) (its fixed 256-128-64 MLP), "
           f"ListNet loss (softmax cross-entropy against softmax of the grades), Adam lr 1e-3, weight decay 1e-5, "
           f"32 queries per batch, 10 epochs over {train_q} queries; {test_q} held out. NDCG@10 skips queries "
           f"with no relevant document. Requests: `requests/ltr.safetensors` holds 20 held-out queries: `features` "
           f"f32 [{20 * docs}, {feats}], `qid` and `relevance` i64 [{20 * docs}].")
    return metrics, how


# --- fraud ----------------------------------------------------------------------------------------
# Legitimate hours: mostly daytime, a little night activity (hour < 6 or > 22 is "night").
HOUR_P = np.array([1, 0.5, 0.3, 0.3, 0.3, 0.6, 2, 4, 6, 7, 7, 7, 8, 8, 7, 7, 7, 7, 8, 8, 7, 5, 3, 1.5])
HOUR_P /= HOUR_P.sum()


def fraud_stream(rng, users, days, events):
    """A time-ordered transaction stream: (ts, user, device, amount, is_international, label)."""
    cols = [[] for _ in range(6)]
    devices = iter(range(10**9))
    mu = rng.normal(3.5, 0.7, users)  # each user's typical ln(amount): medians ~$10–$130
    for u in range(users):
        own = [next(devices) for _ in range(1 + (rng.random() < 0.3))]
        n = rng.poisson(rng.lognormal(0, 0.5) * 1.2 * days)
        ts = T0 + rng.integers(0, days, n) * 86400 + ((rng.choice(24, n, p=HOUR_P) + rng.random(n)) * 3600).astype(int)
        dev = np.array(own)[(rng.random(n) < 0.3).astype(int) % len(own)]
        if rng.random() < 0.15:  # a legitimate new phone, used from some day on
            switch = T0 + int(rng.integers(1, days)) * 86400
            dev = np.where((ts >= switch) & (rng.random(n) < 0.7), next(devices), dev)
        amount = np.exp(rng.normal(mu[u], 0.7, n)) * np.where(rng.random(n) < 0.01, 6.0, 1.0)  # rare big buys
        intl = rng.random(n) < (0.25 if rng.random() < 0.1 else 0.02)  # travellers
        for c, v in zip(cols, (ts, np.full(n, u), dev, amount, intl, np.zeros(n, bool))):
            c.append(v)
    ring = [next(devices) for _ in range(40)]  # fraud-ring devices reused across victims
    for _ in range(events):
        victim = int(rng.integers(0, users))
        day, night = int(rng.integers(0, days)), rng.random() < 0.7
        hour = rng.choice([23, 0, 1, 2, 3, 4, 5]) if night else rng.integers(8, 22)
        dev = ring[rng.integers(0, len(ring))] if rng.random() < 0.3 else next(devices)
        quiet = rng.random() < 0.15  # a single ordinary-looking purchase: hard to catch
        k = 1 if quiet else int(rng.integers(2, 9))
        ts = T0 + day * 86400 + hour * 3600 + int(rng.integers(0, 3600)) + np.cumsum(rng.integers(30, 600, k))
        amount = np.exp(rng.normal(mu[victim] + (0 if quiet else 1.8), 0.5, k))
        intl = np.full(k, rng.random() < 0.6)
        for c, v in zip(cols, (ts, np.full(k, victim), np.full(k, dev), amount, intl, np.ones(k, bool))):
            c.append(v)
    ts, user, dev, amount, intl, label = (np.concatenate(c) for c in cols)
    order = np.lexsort((user, ts))
    amount = np.round(amount, 2).astype(np.float32)  # cents, stored as f32: the values reckon reads
    return {"ts": ts[order].astype(np.int64), "user": user[order].astype(np.int64), "device": dev[order].astype(np.int64),
            "amount": amount[order], "is_international": intl[order].astype(np.int64), "label": label[order].astype(np.int64)}


def fraud_features(s):
    """SPEC §4.4, written out plainly: the 11 features of each transaction from the user's and the
    device's earlier transactions (windows are (ts − w, ts])."""
    window = collections.defaultdict(collections.deque)  # user -> (ts, amount) of the last 24 h
    last100 = collections.defaultdict(lambda: collections.deque(maxlen=100))
    device_users = {}
    out = np.zeros((len(s["ts"]), 11))
    for r, (t, u, d, a, intl) in enumerate(zip(s["ts"].tolist(), s["user"].tolist(), s["device"].tolist(),
                                               s["amount"].astype(np.float64).tolist(), s["is_international"].tolist())):
        w = window[u]
        while w and w[0][0] <= t - 86400:
            w.popleft()
        hist = last100[u]
        avg = sum(hist) / len(hist) if hist else None
        hour = (t % 86400) / 3600
        seen = device_users.get(d)
        out[r] = [a, math.log1p(a), hour, float(hour < 6 or hour > 22), intl,
                  sum(1 for tt, _ in w if tt > t - 3600), len(w), sum(aa for _, aa in w),
                  (a - avg) / (avg + 1) if hist else 0.0, len(seen) if seen else 0, float(seen is None)]
        w.append((t, a))
        hist.append(a)
        device_users.setdefault(d, set()).add(u)
    return out.astype(np.float32)


def fraud(rng):
    users, days, train_days, events = 2000, 28, 21, 330
    s = fraud_stream(rng, users, days, events)
    x, y = fraud_features(s), s["label"].astype(np.float32)
    split = int(np.searchsorted(s["ts"], T0 + train_days * 86400))
    m = sm.Fraud(11, (64, 32))
    pos_weight = torch.tensor(5.0)  # imbalance: ~1.5% positives
    xt, yt = torch.tensor(x), torch.tensor(y)
    final = fit(m, shuffled(split, 512, xt[:split], yt[:split]), 10, 1e-3,
                lambda model, xb, yb: F.binary_cross_entropy_with_logits(
                    model.classifier(model.network(xb)).squeeze(-1), yb, pos_weight=pos_weight))
    demo = fraud_stream(np.random.default_rng(SEED + 1), 300, 14, 25)
    with torch.no_grad():
        p = m(xt).numpy()
        pd = m(torch.tensor(fraud_features(demo))).numpy()

    def report(name, yy, pp):
        yy = yy.astype(bool)
        hit = pp >= 0.5
        prec, rec = (hit & yy).sum() / max(hit.sum(), 1), (hit & yy).sum() / yy.sum()
        return (f"{name}: {len(yy)} txns, fraud {yy.mean():.2%}; AUC {auc(yy, pp):.3f}, PR-AUC {pr_auc(yy, pp):.3f}; "
                f"at 0.5: precision {prec:.3f}, recall {rec:.3f}, FPR {(hit & ~yy).sum() / (~yy).sum():.4f}")

    metrics = [f"final train loss (BCE, pos_weight 5): {final:.4f}",
               report(f"train (days 0–{train_days - 1})", y[:split], p[:split]),
               report(f"held-out (days {train_days}–{days - 1})", y[split:], p[split:]),
               report("demo stream (requests/fraud.safetensors)", demo["label"], pd)]
    export(m, "fraud", os.path.join(OUT, "fraud.safetensors"),
           metadata={"reckon.feature_names": FRAUD_FEATURES, "demo.made_by": "weights/train_demo.py"})
    write_file({k: torch.tensor(v) for k, v in demo.items()}, {"demo.t0": str(T0)}, os.path.join(REQ, "fraud.safetensors"))
    how = (f"A {days}-day stream starting {T0} (2026-01-01 UTC) for {users} users. Legitimate: each user has 1 "
           f"device (30%: 2), ~Poisson(1.2·LogNormal(0, 0.5)) transactions a day at mostly daytime hours, amounts "
           f"LogNormal(μ_user ~ N(3.5, 0.7), 0.7) with 1% six-fold big buys, 2% international (10% of users are "
           f"travellers at 25%), 15% of users switch to a new phone on some day. Fraud: {events} account takeovers "
           f"on random victims, 70% at night (23:00–05:59), on a never-seen device (30%: one of 40 fraud-ring "
           f"devices shared across victims), 60% international; 85% are bursts of 2–8 transactions 30–600 s apart "
           f"with amounts e^1.8 ≈ 6× the victim's typical, 15% a single ordinary-looking purchase. The 11 features "
           f"are SPEC §4.4's in its order (metadata `reckon.feature_names`), computed by the plain Python "
           f"`fraud_features` from raw values, no scaling. Model: seed Fraud(11, hidden_dims=[64, 32]), BCE with "
           f"pos_weight 5, Adam lr 1e-3, batch 512, 10 epochs over days 0–{train_days - 1}; later days held out. "
           f"Requests: `requests/fraud.safetensors` is a separate stream (other seed, 300 users, 14 days, 25 "
           f"takeovers): `ts`, `user`, `device`, `is_international`, `label` i64 and `amount` f32, time-ordered; "
           f"replaying it through SPEC §4.4's features from empty state gives the rows scored above.")
    return metrics, how


# --- deepfm ---------------------------------------------------------------------------------------
def deepfm(rng):
    train_rows, test_rows, latent = 200_000, 50_000, 4
    n = train_rows + test_rows
    f = {name: i for i, name in enumerate(DEEPFM_FIELDS)}
    # Ids follow a Zipf-like law per field (id 0 commonest), as categorical ad logs do. A flatter law
    # leaves most of the interaction signal on ids seen a handful of times: held-out AUC fell to 0.68.
    ids = np.stack([rng.choice(v, n, p=(w := 1 / (np.arange(v) + 2.0) ** 1.5) / w.sum()) for v in DEEPFM_VOCABS], 1)
    first = [rng.normal(0, 0.25, v) for v in DEEPFM_VOCABS]
    first[f["ad_id"]][rng.random(DEEPFM_VOCABS[f["ad_id"]]) < 0.05] += 1.5  # a few great ads
    first[f["device_type"]][0] -= 1.0  # one device type rarely clicks
    factors = [rng.normal(0, 0.5, (v, latent)) for v in DEEPFM_VOCABS]
    pairs = [("user_segment", "ad_category"), ("site", "ad_category"), ("hour", "app_category"),
             ("city", "advertiser"), ("device_type", "os"), ("ad_id", "user_segment")]
    logit = sum(first[k][ids[:, k]] for k in range(len(DEEPFM_VOCABS)))
    logit += sum((factors[f[a]][ids[:, f[a]]] * factors[f[b]][ids[:, f[b]]]).sum(1) for a, b in pairs)
    lo, hi = -20.0, 20.0
    for _ in range(60):  # the bias that makes the mean CTR 5%
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (1 / (1 + np.exp(-(logit + mid)))).mean() < 0.05 else (lo, mid)
    p_true = 1 / (1 + np.exp(-(logit + lo)))
    y = (rng.random(n) < p_true).astype(np.float32)

    m = sm.DeepFm(DEEPFM_VOCABS, 8, (64, 32))
    with torch.no_grad():
        for e in m.embeddings:  # N(0,1) rows would make the FM term ~±40 and saturate the sigmoid
            e.weight.normal_(0, 0.01)

    def loss(model, xb, yb):
        return F.binary_cross_entropy(model(xb).clamp(1e-7, 1 - 1e-7), yb)

    xt, yt = torch.tensor(ids), torch.tensor(y)
    final = fit(m, shuffled(train_rows, 1024, xt[:train_rows], yt[:train_rows]), 3, 2e-3, loss, weight_decay=1e-5)
    with torch.no_grad():
        p = m(xt).numpy().astype(np.float64)
    tr, te = slice(0, train_rows), slice(train_rows, n)
    logloss = lambda yy, pp: float(-np.mean(yy * np.log(pp) + (1 - yy) * np.log(1 - pp)))  # noqa: E731
    metrics = [f"final train BCE: {final:.4f}; CTR {y.mean():.3%}",
               f"AUC train {auc(y[tr], p[tr]):.3f} / held-out {auc(y[te], p[te]):.3f} "
               f"(true-probability ceiling {auc(y[te], p_true[te]):.3f})",
               f"held-out log loss {logloss(y[te], p[te]):.4f} (true probabilities {logloss(y[te], p_true[te]):.4f}); "
               f"ECE (10 bins) {ece(y[te], p[te]):.4f}; mean pCTR {p[te].mean():.4f} vs observed {y[te].mean():.4f}"]
    export(m, "deepfm", os.path.join(OUT, "deepfm.safetensors"),
           metadata={"demo.fields": ",".join(DEEPFM_FIELDS), "demo.made_by": "weights/train_demo.py"})
    demo = slice(train_rows, train_rows + 2000)
    write_file({"ids": xt[demo], "label": torch.tensor(y[demo].astype(np.int64)),
                "p_true": torch.tensor(p_true[demo].astype(np.float32))}, {}, os.path.join(REQ, "deepfm.safetensors"))
    how = (f"{n} impressions over 10 categorical fields `{','.join(DEEPFM_FIELDS)}` (metadata `demo.fields`) "
           f"with vocabularies {DEEPFM_VOCABS}; ids drawn per field with P(id) ∝ (id + 2)^−1.5 (head-heavy, as in ad logs). True click "
           f"logit: per-id first-order weights N(0, 0.25²) (5% of ad_ids +1.5, device_type 0 −1.0) + "
           f"factorisation-machine interactions ⟨v_a, v_b⟩ with {latent}-d factors N(0, 0.5²) over the field pairs "
           f"{', '.join(a + '×' + b for a, b in pairs)} + a bias bisected to a 5% mean CTR; click ~ Bernoulli. "
           f"Model: seed DeepFm(embedding_dim=8, hidden_dims=[64, 32]) with embeddings started at N(0, 0.01²), "
           f"BCE, Adam lr 2e-3, weight decay 1e-5, batch 1024, 3 epochs over {train_rows} rows; {test_rows} held "
           f"out. Uncalibrated (no `calibration.*`). Requests: `requests/deepfm.safetensors` holds 2000 held-out "
           f"rows: `ids` i64 [2000, 10], `label` i64, and the generator's `p_true` f32.")
    return metrics, how


README_HEAD = """# Demo weights

Small versions of the five seed models, trained briefly on CPU on synthetic data with real signal,
for `reckon demo`. Made by `weights/train_demo.py` (seeded, one thread, about a minute):

    .venv/bin/python weights/train_demo.py

which also wrote this file; the numbers below are what that run printed. All files are f32,
exported with `weights/export.py`. Keys starting `demo.` are for the demo and ignored by reckon.
`requests/*.safetensors` are the inputs the demo replays (plain safetensors, no `reckon.arch`).
"""


def write_readme(sections):
    lines = [README_HEAD]
    for name, metrics, how in sections:
        lines += [f"## {name} (`{name}.safetensors`)", "", how, "", "Metrics:", ""]
        lines += [f"- {m}" for m in metrics] + [""]
    with open(os.path.join(OUT, "README.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")


def main():
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    os.makedirs(REQ, exist_ok=True)
    start, sections = time.time(), []
    rng = np.random.default_rng(SEED)
    vectors = []  # the two-tower's user/item vectors and top-100 lists, which the ranker's data uses

    def run_two_tower():
        metrics, how, *rest = two_tower(rng)
        vectors.extend(rest)
        return metrics, how

    for name, fn in [("two_tower", run_two_tower), ("ranker", lambda: ranker(rng, *vectors)),
                     ("ltr", lambda: ltr(rng)), ("fraud", lambda: fraud(rng)), ("deepfm", lambda: deepfm(rng))]:
        t = time.time()
        metrics, how = fn()
        sections.append((name, metrics, how))
        print(f"{name} ({time.time() - t:.1f} s):\n  " + "\n  ".join(metrics), flush=True)
    write_readme(sections)  # no timings in it: rerunning must give the same bytes
    size = sum(os.path.getsize(os.path.join(d, fn)) for d, _, fs in os.walk(OUT) for fn in fs)
    print(f"wrote {OUT}: {size / 1e6:.2f} MB in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
