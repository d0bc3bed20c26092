//! The architectures a weight file can hold, and which tensor names each one accepts.
//!
//! Names follow the seed modules' PyTorch `state_dict` (SPEC §2), so files export with no
//! conversion. This is a name-level check only (names, dtypes, ranks); whether layer sizes fit
//! together is the model builder's job, which sees the shapes in context.

use super::schema::{Layout, Rank, Role};
use crate::error::{Error, Result};

/// A model architecture, as named by `reckon.arch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// Two-tower retrieval (`two_tower`).
    TwoTower,
    /// Multi-task ranker (`ranker`).
    Ranker,
    /// Learning-to-rank MLP (`ltr`).
    Ltr,
    /// Fraud detector MLP (`fraud`).
    Fraud,
    /// DeepFM click-through-rate model (`deepfm`).
    DeepFm,
    /// A prebuilt item index for retrieval (`item_index`).
    ItemIndex,
}

const LINEAR_WEIGHT: Role = Role::Float(Rank::Exactly(2, "rank 2 ([out, in])"));
const BIAS: Role = Role::Float(Rank::Exactly(1, "rank 1 ([out])"));
const EMBEDDING: Role = Role::Float(Rank::Exactly(2, "rank 2 ([rows, dim])"));
const PER_ITEM_IDS: Role = Role::Int(Rank::Exactly(1, "rank 1 ([items])"));

/// A plain `nn.Linear` child called `$m`: weight required, bias optional (`bias=False`).
macro_rules! linear {
    ($m:literal) => {
        [
            (concat!($m, ".weight"), LINEAR_WEIGHT, true),
            (concat!($m, ".bias"), BIAS, false),
        ]
    };
}

const TWO_TOWER: Layout = Layout {
    fixed: &[
        ("user_embedding.weight", EMBEDDING, true),
        ("item_embedding.weight", EMBEDDING, true),
        ("temperature", Role::Float(Rank::Scalar), false),
    ],
    sequentials: &[("user_mlp", true), ("item_mlp", true)],
    open_prefixes: &[],
    field_embeddings: false,
};

const RANKER_HEADS: [(&str, Role, bool); 6] = {
    let [c0, c1] = linear!("click_head");
    let [e0, e1] = linear!("engage_head");
    let [s0, s1] = linear!("share_head");
    [c0, c1, e0, e1, s0, s1]
};

const RANKER: Layout = Layout {
    fixed: &RANKER_HEADS,
    // `hidden_dims=[]` gives an empty Sequential, which PyTorch saves as no tensors at all.
    sequentials: &[("shared", false)],
    open_prefixes: &[],
    field_embeddings: false,
};

const LTR: Layout = Layout {
    fixed: &[],
    sequentials: &[("model", true)],
    open_prefixes: &[],
    field_embeddings: false,
};

const FRAUD: Layout = Layout {
    fixed: &linear!("classifier"),
    sequentials: &[("network", false)],
    open_prefixes: &[],
    field_embeddings: false,
};

const DEEPFM: Layout = Layout {
    fixed: &linear!("linear"),
    sequentials: &[("dnn", true)],
    // Written by reckon's own calibration fit (SPEC §4.5); their shapes depend on the method.
    open_prefixes: &[("calibration.", Role::Float(Rank::Any))],
    field_embeddings: true,
};

const ITEM_INDEX: Layout = Layout {
    fixed: &[
        ("ids", PER_ITEM_IDS, true),
        (
            "vectors",
            Role::Float(Rank::Exactly(2, "rank 2 ([items, dim])")),
            true,
        ),
        ("category", PER_ITEM_IDS, false),
    ],
    sequentials: &[],
    // IVF structures (centroids, lists, offsets) are defined by the index builder.
    open_prefixes: &[("ivf.", Role::Any)],
    field_embeddings: false,
};

impl Arch {
    /// Every architecture, in documentation order.
    pub const ALL: [Arch; 6] = [
        Arch::TwoTower,
        Arch::Ranker,
        Arch::Ltr,
        Arch::Fraud,
        Arch::DeepFm,
        Arch::ItemIndex,
    ];

    /// The `reckon.arch` spelling.
    pub fn name(self) -> &'static str {
        match self {
            Arch::TwoTower => "two_tower",
            Arch::Ranker => "ranker",
            Arch::Ltr => "ltr",
            Arch::Fraud => "fraud",
            Arch::DeepFm => "deepfm",
            Arch::ItemIndex => "item_index",
        }
    }

    /// Parses a `reckon.arch` value (exact spelling).
    pub fn parse(s: &str) -> Result<Arch> {
        Arch::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| Error::UnknownArch {
                arch: s.to_string(),
            })
    }

    pub(crate) fn layout(self) -> &'static Layout {
        match self {
            Arch::TwoTower => &TWO_TOWER,
            Arch::Ranker => &RANKER,
            Arch::Ltr => &LTR,
            Arch::Fraud => &FRAUD,
            Arch::DeepFm => &DEEPFM,
            Arch::ItemIndex => &ITEM_INDEX,
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
