//! Two-tower retrieval (SPEC §3): `normalize(mlp(emb[ids]))` for users and for items.
//! The temperature only scales training logits; it never changes a ranking, so serving ignores it.

use std::mem::take;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::kernels::elementwise::OutLayout;
use crate::kernels::KernelTable;
use crate::nn::mlp::{row_blocks, ROW_BLOCK};
use crate::nn::sequential::load_sequential;
use crate::nn::{EmbeddingTable, Mlp, MlpWorkspace};
use crate::weights::WeightFile;

use super::dense::bn_eps;
use super::input::{check_len, grow};
use super::split::split_rows;
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
    threads: usize,
    kernels: &'static KernelTable,
}

/// Scratch for [`TwoTower::embed`].
#[derive(Debug, Default)]
pub struct TwoTowerWorkspace {
    ids: Vec<i64>,
    emb: Vec<f32>,
    mlp: MlpWorkspace,
    /// One per helper thread of a split batch ([`Options::threads`]).
    helpers: Vec<TwoTowerWorkspace>,
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
            threads: opts.threads,
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
    ///
    /// Rows run in blocks of [`ROW_BLOCK`] (gather, MLP, normalise on one block before the
    /// next), so the gathered rows and the outputs are still in cache when the next step reads
    /// them. An id error is reported before `out` is written.
    pub fn embed(
        &self,
        tower: Tower,
        ids: &[i64],
        out: &mut [f32],
        ws: &mut TwoTowerWorkspace,
    ) -> Result<()> {
        let net = self.net(tower);
        let (rows, dim) = (ids.len(), self.dim());
        let expected = rows
            .checked_mul(dim)
            .ok_or_else(|| Error::InvalidArgument {
                arg: "ids",
                reason: format!("{rows} ids × {dim} outputs overflows"),
            })?;
        check_len("embed", "out", out.len(), expected)?;
        // Moved out while the blocks run, so the helpers' workspaces can be lent out too.
        let (mut fixed, mut helpers) = (take(&mut ws.ids), take(&mut ws.helpers));
        let ids = match self.oov {
            OutOfVocabulary::Error => {
                // One block's gather checks its ids before anything is written.
                if rows > ROW_BLOCK {
                    net.table.check_ids(ids)?;
                }
                ids
            }
            OutOfVocabulary::FallbackRow(fallback) => {
                let n = net.table.rows() as u64;
                let fixed = grow(&mut fixed, rows);
                for (f, &id) in fixed.iter_mut().zip(ids) {
                    *f = if id as u64 >= n { fallback } else { id };
                }
                &fixed[..rows]
            }
        };
        let r = split_rows(
            rows,
            self.threads,
            out,
            dim,
            ws,
            &mut helpers,
            |r, out, ws| self.embed_blocks(net, &ids[r], out, ws),
        );
        (ws.ids, ws.helpers) = (fixed, helpers);
        r
    }

    /// [`TwoTower::embed`] after the id policy, on one thread: gather, MLP and normalise per
    /// row block.
    fn embed_blocks(
        &self,
        net: &TowerNet,
        ids: &[i64],
        out: &mut [f32],
        ws: &mut TwoTowerWorkspace,
    ) -> Result<()> {
        let (rows, dim) = (ids.len(), self.dim());
        let d_in = net.table.dim();
        let normalize = self.kernels.elementwise.l2_normalize_f32.f;
        let emb = grow(&mut ws.emb, ROW_BLOCK.min(rows) * d_in);
        for (start, n) in row_blocks(rows) {
            let emb = &mut emb[..n * d_in];
            let layout = OutLayout::contiguous(d_in);
            net.table
                .gather(&ids[start..start + n], emb, layout, self.kernels)?;
            let out = &mut out[start * dim..(start + n) * dim];
            net.mlp.forward(emb, n, out, &mut ws.mlp)?;
            normalize(out, dim)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Model;

    #[test]
    fn an_id_error_in_a_later_block_leaves_out_untouched() {
        let path = format!(
            "{}/tests/fixtures/two_tower_default.safetensors",
            env!("CARGO_MANIFEST_DIR")
        );
        let Model::TwoTower(m) = Model::open(&path, &Options::default()).expect("open") else {
            panic!("not a two-tower file");
        };
        let rows = ROW_BLOCK + 44;
        let vocab = m.vocab(Tower::User) as i64;
        let mut ids = vec![1i64; rows];
        ids[rows - 1] = vocab;
        let mut out = vec![-7.0f32; rows * m.dim()];
        let err = m
            .embed(
                Tower::User,
                &ids,
                &mut out,
                &mut TwoTowerWorkspace::default(),
            )
            .unwrap_err();
        assert!(
            matches!(&err, Error::IdOutOfRange { table, id, .. } if table == "user_embedding.weight" && *id == vocab),
            "{err}"
        );
        assert!(
            out.iter().all(|&v| v == -7.0),
            "out written before the error"
        );
    }
}
