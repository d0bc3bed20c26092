//! Two-tower retrieval (SPEC §3): `normalize(mlp(emb[ids]))` for users and for items.
//! The temperature only scales training logits; it never changes a ranking, so serving ignores it.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::kernels::elementwise::OutLayout;
use crate::kernels::KernelTable;
use crate::nn::sequential::load_sequential;
use crate::nn::{EmbeddingTable, Mlp, MlpWorkspace};
use crate::weights::WeightFile;

use super::dense::bn_eps;
use super::input::{check_len, grow};
use super::{Options, OutOfVocabulary};

/// Which tower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tower {
    /// `user_embedding` + `user_mlp`.
    User,
    /// `item_embedding` + `item_mlp`.
    Item,
}

#[derive(Debug)]
struct TowerNet {
    table: EmbeddingTable,
    mlp: Mlp,
}

/// A two-tower model: both towers, each producing L2-normalised vectors of the same width.
#[derive(Debug)]
pub struct TwoTower {
    user: TowerNet,
    item: TowerNet,
    oov: OutOfVocabulary,
    kernels: &'static KernelTable,
}

/// Scratch for [`TwoTower::embed`].
#[derive(Debug, Default)]
pub struct TwoTowerWorkspace {
    ids: Vec<i64>,
    emb: Vec<f32>,
    mlp: MlpWorkspace,
}

impl TwoTower {
    pub(crate) fn load(
        file: &Arc<WeightFile>,
        opts: &Options,
        kernels: &'static KernelTable,
    ) -> Result<TwoTower> {
        let eps = bn_eps(file);
        let tower = |emb: &str, mlp: &str| -> Result<TowerNet> {
            let table = EmbeddingTable::load(file, emb)?;
            let seq = load_sequential(file, mlp, Some(table.dim()), eps)?;
            if let Some(bn) = seq.trailing_bn {
                return Err(Error::Unsupported {
                    tensor: bn.name,
                    reason: "a tower must end with a Linear".into(),
                });
            }
            if let OutOfVocabulary::FallbackRow(row) = opts.out_of_vocabulary {
                if row < 0 || row as usize >= table.rows() {
                    return Err(Error::IdOutOfRange {
                        table: emb.into(),
                        id: row,
                        rows: table.rows(),
                    });
                }
            }
            let mlp = Mlp::pack(&seq.linears, table.dim(), kernels)?;
            Ok(TowerNet { table, mlp })
        };
        let user = tower("user_embedding.weight", "user_mlp")?;
        let item = tower("item_embedding.weight", "item_mlp")?;
        if user.mlp.out_features() != item.mlp.out_features() {
            return Err(Error::WrongShape {
                tensor: item
                    .mlp
                    .layers()
                    .last()
                    .map_or("item_mlp".into(), |_| "item_mlp (last Linear)".into()),
                expected: format!("output width {} like user_mlp", user.mlp.out_features()),
                actual: vec![item.mlp.out_features()],
            });
        }
        Ok(TwoTower {
            user,
            item,
            oov: opts.out_of_vocabulary,
            kernels,
        })
    }

    /// Width of the vectors both towers produce.
    pub fn dim(&self) -> usize {
        self.user.mlp.out_features()
    }

    /// Number of users / items the tower's embedding table holds.
    pub fn vocab(&self, tower: Tower) -> usize {
        self.net(tower).table.rows()
    }

    fn net(&self, tower: Tower) -> &TowerNet {
        match tower {
            Tower::User => &self.user,
            Tower::Item => &self.item,
        }
    }

    /// Normalised vectors for `ids` into `out` (`ids.len() × dim`).
    pub fn embed(
        &self,
        tower: Tower,
        ids: &[i64],
        out: &mut [f32],
        ws: &mut TwoTowerWorkspace,
    ) -> Result<()> {
        let net = self.net(tower);
        let rows = ids.len();
        check_len("embed", "out", out.len(), rows * self.dim())?;
        let ids = match self.oov {
            OutOfVocabulary::Error => ids,
            OutOfVocabulary::FallbackRow(fallback) => {
                let n = net.table.rows() as u64;
                let fixed = grow(&mut ws.ids, rows);
                for (f, &id) in fixed.iter_mut().zip(ids) {
                    *f = if id as u64 >= n { fallback } else { id };
                }
                &ws.ids[..rows]
            }
        };
        let d_in = net.table.dim();
        let emb = grow(&mut ws.emb, rows * d_in);
        net.table
            .gather(ids, emb, OutLayout::contiguous(d_in), self.kernels)?;
        net.mlp.forward(emb, rows, out, &mut ws.mlp)?;
        (self.kernels.elementwise.l2_normalize_f32.f)(out, self.dim())
    }
}
