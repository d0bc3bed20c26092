//! Name-level schema check: every tensor name is one the architecture knows, with the right
//! dtype class and rank, and every required name is present.
//!
//! `nn.Sequential` children are recognised by grammar (`<seq>.<n>.<param>`) and classified by
//! the MLP rule of SPEC §2: a child with `running_mean`/`running_var`/`num_batches_tracked` is a
//! BatchNorm1d (all rank 1, counter i64), any other child is a Linear (2-D weight).

use std::collections::{BTreeMap, BTreeSet};

use super::arch::Arch;
use super::dtype::Dtype;
use super::header::TensorInfo;
use crate::error::{Error, Result};

/// Allowed rank of a tensor, with the words used in [`Error::WrongShape`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rank {
    /// Exactly this rank.
    Exactly(usize, &'static str),
    /// One element: shape `[]` or `[1]` (PyTorch scalars and `nn.Parameter(torch.ones(1))`).
    Scalar,
    /// Anything.
    Any,
}

/// What a name means within an architecture.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Role {
    /// A float tensor (F32/F16/BF16).
    Float(Rank),
    /// An I64 tensor.
    Int(Rank),
    /// Float or I64, any shape.
    Any,
}

/// The names an architecture accepts.
#[derive(Debug)]
pub(crate) struct Layout {
    /// Exact names: (name, role, required).
    pub fixed: &'static [(&'static str, Role, bool)],
    /// `nn.Sequential` prefixes, and whether at least one child must be present.
    pub sequentials: &'static [(&'static str, bool)],
    /// Prefixes under which any name is accepted with the given role.
    pub open_prefixes: &'static [(&'static str, Role)],
    /// DeepFM's `embeddings.<i>.weight`, `i = 0..F-1` contiguous, `F >= 1`.
    pub field_embeddings: bool,
}

const FLOAT_NAMES: &str = "a float dtype (F32, F16, BF16)";
const SEQ_PARAMS: [&str; 5] = [
    "weight",
    "bias",
    "running_mean",
    "running_var",
    "num_batches_tracked",
];
const BN_ONLY: [&str; 3] = ["running_mean", "running_var", "num_batches_tracked"];
const FIELD_PREFIX: &str = "embeddings.";

/// Checks `tensors` (sorted by name) against `arch`'s layout; returns the first violation.
pub(crate) fn check(arch: Arch, tensors: &[TensorInfo]) -> Result<()> {
    let layout = arch.layout();
    let arch_name = arch.name();
    // Sequential children: (prefix, index) -> param -> tensor.
    let mut children: BTreeMap<(&str, usize), BTreeMap<&str, &TensorInfo>> = BTreeMap::new();
    let mut fields = BTreeSet::new();
    for t in tensors {
        if let Some((seq, index, param)) = sequential_param(layout, &t.name) {
            children.entry((seq, index)).or_default().insert(param, t);
        } else if let Some(i) = field_embedding(layout, &t.name) {
            fields.insert(i);
            check_role(t, Role::Float(Rank::Exactly(2, "rank 2 ([rows, dim])")))?;
        } else if let Some(role) = fixed_or_open(layout, &t.name) {
            check_role(t, role)?;
        } else {
            return Err(Error::UnexpectedTensor {
                arch: arch_name,
                tensor: t.name.clone(),
            });
        }
    }
    for ((seq, index), params) in &children {
        check_child(arch_name, seq, *index, params)?;
    }
    let present = |name: &str| {
        tensors
            .binary_search_by(|t| t.name.as_str().cmp(name))
            .is_ok()
    };
    let missing = |tensor: String| {
        Err(Error::MissingTensor {
            arch: arch_name,
            tensor,
        })
    };
    for (name, _, required) in layout.fixed {
        if *required && !present(name) {
            return missing(name.to_string());
        }
    }
    for (seq, required) in layout.sequentials {
        if *required && !children.keys().any(|(s, _)| s == seq) {
            return missing(format!("{seq}.0.weight"));
        }
    }
    if layout.field_embeddings {
        // Fields are numbered 0..F-1 in a ModuleList; a gap means a lost field. Of the
        // F+1 candidates 0..=F one is absent, and it is F exactly when there is no gap.
        let gap = (0..=fields.len())
            .find(|i| !fields.contains(i))
            .unwrap_or(0);
        if gap < fields.len() || fields.is_empty() {
            return missing(format!("{FIELD_PREFIX}{gap}.weight"));
        }
    }
    Ok(())
}

/// Checks a Sequential child's params as a BatchNorm1d or a Linear.
fn check_child(
    arch: &'static str,
    seq: &str,
    index: usize,
    params: &BTreeMap<&str, &TensorInfo>,
) -> Result<()> {
    let is_bn = BN_ONLY.iter().any(|p| params.contains_key(p));
    for (&param, t) in params {
        let role = match (is_bn, param) {
            (_, "num_batches_tracked") => Role::Int(Rank::Scalar),
            (true, _) => Role::Float(Rank::Exactly(1, "rank 1 ([features]), as a BatchNorm1d")),
            (false, "weight") => Role::Float(Rank::Exactly(
                2,
                "rank 2 ([out, in]) for a Linear (a BatchNorm1d would also have running_mean/running_var)",
            )),
            (false, _) => Role::Float(Rank::Exactly(1, "rank 1 ([out])")),
        };
        check_role(t, role)?;
    }
    let required: &[&str] = if is_bn {
        &["running_mean", "running_var"]
    } else {
        &["weight"]
    };
    match required.iter().find(|p| !params.contains_key(*p)) {
        Some(p) => Err(Error::MissingTensor {
            arch,
            tensor: format!("{seq}.{index}.{p}"),
        }),
        None => Ok(()),
    }
}

fn check_role(t: &TensorInfo, role: Role) -> Result<()> {
    let rank = match role {
        Role::Float(rank) => {
            require_dtype(t, t.dtype.is_float(), FLOAT_NAMES)?;
            rank
        }
        Role::Int(rank) => {
            require_dtype(t, t.dtype == Dtype::I64, "I64")?;
            rank
        }
        Role::Any => Rank::Any,
    };
    let ok = match rank {
        Rank::Exactly(r, _) => t.shape.len() == r,
        Rank::Scalar => t.shape.is_empty() || t.shape == [1],
        Rank::Any => true,
    };
    if ok {
        return Ok(());
    }
    let expected = match rank {
        Rank::Exactly(_, words) => words.to_string(),
        _ => "one element ([] or [1])".to_string(),
    };
    Err(Error::WrongShape {
        tensor: t.name.clone(),
        expected,
        actual: t.shape.clone(),
    })
}

fn require_dtype(t: &TensorInfo, ok: bool, expected: &'static str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::WrongDtype {
            tensor: t.name.clone(),
            expected,
            actual: t.dtype.name(),
        })
    }
}

/// `<seq>.<n>.<param>` for one of the layout's Sequentials.
fn sequential_param<'n>(layout: &Layout, name: &'n str) -> Option<(&'static str, usize, &'n str)> {
    layout.sequentials.iter().find_map(|&(seq, _)| {
        let rest = name.strip_prefix(seq)?.strip_prefix('.')?;
        let (index, param) = rest.split_once('.')?;
        let index = parse_index(index)?;
        SEQ_PARAMS.contains(&param).then_some((seq, index, param))
    })
}

/// `embeddings.<i>.weight` when the layout has per-field embeddings.
fn field_embedding(layout: &Layout, name: &str) -> Option<usize> {
    if !layout.field_embeddings {
        return None;
    }
    parse_index(name.strip_prefix(FIELD_PREFIX)?.strip_suffix(".weight")?)
}

fn fixed_or_open(layout: &Layout, name: &str) -> Option<Role> {
    let fixed = layout
        .fixed
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, role, _)| role);
    fixed.or_else(|| {
        layout
            .open_prefixes
            .iter()
            .find(|(p, _)| name.len() > p.len() && name.starts_with(p))
            .map(|&(_, role)| role)
    })
}

/// A PyTorch child index: decimal, no sign, no leading zeros.
fn parse_index(s: &str) -> Option<usize> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, dtype: Dtype, shape: &[usize]) -> TensorInfo {
        TensorInfo {
            name: name.into(),
            dtype,
            shape: shape.to_vec(),
            start: 0,
            end: 0,
        }
    }

    fn sorted(mut v: Vec<TensorInfo>) -> Vec<TensorInfo> {
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    #[test]
    fn index_grammar() {
        assert_eq!(parse_index("0"), Some(0));
        assert_eq!(parse_index("12"), Some(12));
        for bad in ["", "01", "+1", "-1", "1a", "99999999999999999999999"] {
            assert_eq!(parse_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn deepfm_field_gap_is_reported() {
        let ts = sorted(vec![
            t("embeddings.0.weight", Dtype::F32, &[10, 4]),
            t("embeddings.2.weight", Dtype::F32, &[10, 4]),
            t("linear.weight", Dtype::F32, &[1, 12]),
            t("dnn.0.weight", Dtype::F32, &[1, 12]),
        ]);
        match check(Arch::DeepFm, &ts) {
            Err(Error::MissingTensor { tensor, .. }) => assert_eq!(tensor, "embeddings.1.weight"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_sequential_is_fine_where_pytorch_allows_it() {
        let ts = sorted(vec![t("classifier.weight", Dtype::BF16, &[1, 11])]);
        assert!(check(Arch::Fraud, &ts).is_ok());
    }

    #[test]
    fn batchnorm_needs_running_stats() {
        let ts = sorted(vec![
            t("model.0.weight", Dtype::F32, &[4, 3]),
            t("model.1.running_mean", Dtype::F32, &[4]),
        ]);
        match check(Arch::Ltr, &ts) {
            Err(Error::MissingTensor { tensor, .. }) => assert_eq!(tensor, "model.1.running_var"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn item_index_accepts_ivf_tensors_of_either_kind() {
        let ts = sorted(vec![
            t("ids", Dtype::I64, &[3]),
            t("vectors", Dtype::F16, &[3, 8]),
            t("ivf.centroids", Dtype::F32, &[2, 8]),
            t("ivf.offsets", Dtype::I64, &[3]),
        ]);
        assert!(check(Arch::ItemIndex, &ts).is_ok());
        let bare_prefix = sorted(vec![
            t("ids", Dtype::I64, &[3]),
            t("ivf.", Dtype::F32, &[1]),
            t("vectors", Dtype::F16, &[3, 8]),
        ]);
        assert!(matches!(
            check(Arch::ItemIndex, &bare_prefix),
            Err(Error::UnexpectedTensor { .. })
        ));
    }
}
