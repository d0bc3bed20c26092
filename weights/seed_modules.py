"""The seed notebook's five architectures, rebuilt module for module so their `state_dict` names and
Sequential indices are exactly the seed's (SPEC §2). Used by the fixture and demo-weight scripts.

Only `eval()` behaviour matters to reckon: Dropout is identity and BatchNorm uses running statistics.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def block_mlp(in_dim, hidden, dropout, out_dim=None):
    """Linear -> ReLU -> BatchNorm1d -> Dropout per hidden size (the seed's tower/ranker/fraud/dnn
    pattern), optionally closed by a plain Linear to `out_dim`."""
    layers, prev = [], in_dim
    for h in hidden:
        layers += [nn.Linear(prev, h), nn.ReLU(), nn.BatchNorm1d(h), nn.Dropout(dropout)]
        prev = h
    if out_dim is not None:
        layers.append(nn.Linear(prev, out_dim))
    return nn.Sequential(*layers), prev


class TwoTower(nn.Module):
    def __init__(self, num_users, num_items, embedding_dim=64, hidden_dims=(128, 64)):
        super().__init__()
        self.user_embedding = nn.Embedding(num_users, embedding_dim)
        self.user_mlp, _ = block_mlp(embedding_dim, hidden_dims, 0.2, embedding_dim)
        self.item_embedding = nn.Embedding(num_items, embedding_dim)
        self.item_mlp, _ = block_mlp(embedding_dim, hidden_dims, 0.2, embedding_dim)
        self.temperature = nn.Parameter(torch.ones(1))

    def user(self, ids):
        return F.normalize(self.user_mlp(self.user_embedding(ids)), p=2, dim=-1)

    def item(self, ids):
        return F.normalize(self.item_mlp(self.item_embedding(ids)), p=2, dim=-1)


class Ranker(nn.Module):
    def __init__(self, feature_dim, hidden_dims=(256, 128, 64)):
        super().__init__()
        self.shared, prev = block_mlp(feature_dim, hidden_dims, 0.3)
        self.click_head = nn.Linear(prev, 1)
        self.engage_head = nn.Linear(prev, 1)
        self.share_head = nn.Linear(prev, 1)

    def forward(self, x, weights=(1.0, 2.0, 3.0)):
        h = self.shared(x)
        p = [torch.sigmoid(head(h)) for head in (self.click_head, self.engage_head, self.share_head)]
        score = sum(w * q for w, q in zip(weights, p))
        return torch.cat(p + [score], dim=-1)


class Ltr(nn.Module):
    def __init__(self, feature_dim):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(feature_dim, 256), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(128, 64), nn.ReLU(),
            nn.Linear(64, 1),
        )

    def forward(self, x):
        return self.model(x).squeeze(-1)


class Fraud(nn.Module):
    def __init__(self, feature_dim=11, hidden_dims=(128, 64, 32)):
        super().__init__()
        self.network, prev = block_mlp(feature_dim, hidden_dims, 0.3)
        self.classifier = nn.Linear(prev, 1)

    def forward(self, x):
        return torch.sigmoid(self.classifier(self.network(x))).squeeze(-1)


class DeepFm(nn.Module):
    def __init__(self, vocab_sizes, embedding_dim=8, hidden_dims=(256, 128, 64)):
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(v, embedding_dim) for v in vocab_sizes)
        flat = len(vocab_sizes) * embedding_dim
        self.linear = nn.Linear(flat, 1)
        self.dnn, _ = block_mlp(flat, hidden_dims, 0.2, 1)

    def forward(self, ids):
        e = torch.stack([emb(ids[:, i]) for i, emb in enumerate(self.embeddings)], dim=1)
        fm = 0.5 * (e.sum(dim=1).pow(2).sum(-1, keepdim=True) - e.pow(2).sum(dim=(1, 2)).unsqueeze(-1))
        flat = e.reshape(e.shape[0], -1)
        return torch.sigmoid(self.linear(flat) + fm + self.dnn(flat)).squeeze(-1)


def randomise_batchnorm(module, gen):
    """Non-trivial running statistics and affine parameters, so BN folding is really exercised."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm1d):
            n = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.5)
                m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.2)
                m.num_batches_tracked.fill_(int(torch.randint(1, 10_000, (1,), generator=gen)))
