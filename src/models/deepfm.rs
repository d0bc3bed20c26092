//! DeepFM (SPEC §3): per-field embeddings `[B, F, D]`; `fm = ½ Σ_d ((Σ_f e)² − Σ_f e²)`;
//! `linear` and `dnn` over the flattened `[B, F·D]`; `sigmoid(linear + fm + dnn)`.

use std::mem::take;
use std::sync::Arc;

use half::{bf16, f16};

use crate::error::{Error, Result};
use crate::kernels::elementwise::{EmbeddingView, OutLayout};
use crate::kernels::linear::PackedLinear;
use crate::kernels::KernelTable;
use crate::nn::mlp::{pack_linear, row_blocks, ROW_BLOCK};
use crate::nn::sequential::{load_linear, load_sequential};
use crate::nn::{EmbeddingTable, Mlp, MlpWorkspace, TableElem, TableView};
use crate::weights::WeightFile;

use super::dense::bn_eps;
use super::input::{check_len, grow};
use super::split::split_rows;
use super::{Options, OutOfVocabulary};

/// A DeepFM CTR model.
#[derive(Debug)]
pub struct DeepFm {
    fields: Vec<EmbeddingTable>,
    dim: usize,
    linear: PackedLinear,
    dnn: Mlp,
    oov: OutOfVocabulary,
    threads: usize,
    kernels: &'static KernelTable,
}

/// Most fields the fused gather+FM kernel is used for: their views live in a stack array, so a
/// call allocates nothing. Wider models (or tables of mixed dtypes) gather field by field.
const FUSED_MAX_FIELDS: usize = 40;

/// Scratch for [`DeepFm::predict_ids`].
#[derive(Debug, Default)]
pub struct DeepFmWorkspace {
    /// Ids with out-of-vocabulary ones replaced by the fallback row.
    ids: Vec<i64>,
    block: BlockBuffers,
    /// One per helper thread of a split batch ([`Options::threads`]).
    helpers: Vec<BlockBuffers>,
}

/// One row block's intermediates (at most [`ROW_BLOCK`] rows, so they stay in L2).
#[derive(Debug, Default)]
struct BlockBuffers {
    /// One field's ids of the block (field-by-field path only).
    field_ids: Vec<i64>,
    flat: Vec<f32>,
    fm: Vec<f32>,
    linear: Vec<f32>,
    deep: Vec<f32>,
    dnn: MlpWorkspace,
}

impl DeepFm {
    pub(crate) fn load(
        file: &Arc<WeightFile>,
        opts: &Options,
        kernels: &'static KernelTable,
    ) -> Result<DeepFm> {
        let mut fields = Vec::new();
        while file.contains(&format!("embeddings.{}.weight", fields.len())) {
            fields.push(EmbeddingTable::load(
                file,
                &format!("embeddings.{}.weight", fields.len()),
            )?);
        }
        let dim = fields
            .first()
            .map(|t| t.dim())
            .ok_or_else(|| Error::MissingTensor {
                arch: "deepfm",
                tensor: "embeddings.0.weight".into(),
            })?;
        if let Some(t) = fields.iter().find(|t| t.dim() != dim) {
            return Err(Error::WrongShape {
                tensor: t.name().to_string(),
                expected: format!("[rows, {dim}] (every field shares embeddings.0's width)"),
                actual: vec![t.rows(), t.dim()],
            });
        }
        if let OutOfVocabulary::FallbackRow(row) = opts.out_of_vocabulary {
            if let Some(t) = fields.iter().find(|t| row < 0 || row as usize >= t.rows()) {
                return Err(Error::IdOutOfRange {
                    table: t.name().to_string(),
                    id: row,
                    rows: t.rows(),
                });
            }
        }
        let flat = fields.len() * dim;
        let linear = load_linear(file, "linear", Some(flat))?;
        if linear.out_features != 1 {
            return Err(Error::WrongShape {
                tensor: linear.name.clone(),
                expected: format!("[1, {flat}]"),
                actual: vec![linear.out_features, linear.in_features],
            });
        }
        let dnn = load_sequential(file, "dnn", Some(flat), bn_eps(file))?;
        if dnn.trailing_bn.is_some() || dnn.out_features() != Some(1) {
            return Err(Error::WrongShape {
                tensor: dnn.linears.last().map_or("dnn".into(), |l| l.name.clone()),
                expected: "a dnn Sequential ending in a Linear with one output".into(),
                actual: dnn
                    .linears
                    .last()
                    .map_or(vec![], |l| vec![l.out_features, l.in_features]),
            });
        }
        Ok(DeepFm {
            fields,
            dim,
            linear: pack_linear(&linear, kernels)?,
            dnn: Mlp::pack(&dnn.linears, flat, kernels)?,
            oov: opts.out_of_vocabulary,
            threads: opts.threads,
            kernels,
        })
    }

    /// Number of fields (columns of the id matrix).
    pub fn fields(&self) -> usize {
        self.fields.len()
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Vocabulary size of each field.
    pub fn vocab_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        self.fields.iter().map(|t| t.rows())
    }

    /// pCTR (uncalibrated) for `rows` rows of `ids` (`rows × fields`, row-major) into `out` (`rows`).
    ///
    /// Rows run in blocks of [`ROW_BLOCK`]: gather + FM, linear, DNN and sigmoid on one block
    /// before the next, so the `[block, F·D]` embeddings are read from cache by every part.
    /// An id error is reported before `out` is written.
    pub fn predict_ids(
        &self,
        ids: &[i64],
        rows: usize,
        out: &mut [f32],
        ws: &mut DeepFmWorkspace,
    ) -> Result<()> {
        let nf = self.fields.len();
        let expected = rows.checked_mul(nf).ok_or_else(|| Error::InvalidArgument {
            arg: "rows",
            reason: format!("{rows} rows × {nf} fields overflows"),
        })?;
        check_len("predict_ids", "ids", ids.len(), expected)?;
        check_len("predict_ids", "out", out.len(), rows)?;
        // Moved out while the blocks run, so the helpers' buffers can be lent out too.
        let (mut fixed, mut helpers) = (take(&mut ws.ids), take(&mut ws.helpers));
        let ids = match self.oov {
            OutOfVocabulary::Error => {
                // One block checks its ids before writing anything; more blocks would have
                // written earlier blocks' outputs by the time a later block fails.
                if rows > ROW_BLOCK {
                    self.check_ids(ids)?;
                }
                ids
            }
            OutOfVocabulary::FallbackRow(fallback) => {
                let fixed = grow(&mut fixed, ids.len());
                for (fixed, row) in fixed.chunks_exact_mut(nf).zip(ids.chunks_exact(nf)) {
                    for ((f, &id), t) in fixed.iter_mut().zip(row).zip(&self.fields) {
                        *f = if id as u64 >= t.rows() as u64 {
                            fallback
                        } else {
                            id
                        };
                    }
                }
                &fixed[..ids.len()]
            }
        };
        let view = self.fields[0].view();
        let r = view.and_then(|view| {
            split_rows(
                rows,
                self.threads,
                out,
                1,
                &mut ws.block,
                &mut helpers,
                |r, out, b| {
                    let (ids, n) = (&ids[r.start * nf..r.end * nf], r.len());
                    match view {
                        TableView::F32(_) => self.predict_blocks::<f32>(ids, n, out, b, true),
                        TableView::F16(_) => self.predict_blocks::<f16>(ids, n, out, b, true),
                        TableView::Bf16(_) => self.predict_blocks::<bf16>(ids, n, out, b, true),
                    }
                },
            )
        });
        (ws.ids, ws.helpers) = (fixed, helpers);
        r
    }

    /// [`DeepFm::predict_ids`] after the id policy: the fused gather+FM kernel when every table
    /// holds `T` and there are at most [`FUSED_MAX_FIELDS`] (and `allow_fused`), else a gather per
    /// field and the FM kernel.
    fn predict_blocks<T: TableElem>(
        &self,
        ids: &[i64],
        rows: usize,
        out: &mut [f32],
        b: &mut BlockBuffers,
        allow_fused: bool,
    ) -> Result<()> {
        let nf = self.fields.len();
        let empty = EmbeddingView::<T>::new("", &[], 1)?;
        let mut views = [empty; FUSED_MAX_FIELDS];
        let mut fused = allow_fused && nf <= FUSED_MAX_FIELDS;
        if fused {
            for (v, t) in views.iter_mut().zip(&self.fields) {
                match T::pick(t.view()?) {
                    Some(view) => *v = view,
                    None => fused = false,
                }
            }
        }
        let views = &views[..nf.min(FUSED_MAX_FIELDS)];
        let gather_fm = T::gather_fm(&self.kernels.elementwise).f;
        let sigmoid = self.kernels.elementwise.sigmoid_f32.f;
        let flat_w = nf * self.dim;
        let block = ROW_BLOCK.min(rows);
        let flat = grow(&mut b.flat, block * flat_w);
        let fm = grow(&mut b.fm, block);
        let lin = grow(&mut b.linear, block);
        let deep = grow(&mut b.deep, block);
        for (start, n) in row_blocks(rows) {
            let ids = &ids[start * nf..(start + n) * nf];
            let (flat, fm, lin, deep) = (
                &mut flat[..n * flat_w],
                &mut fm[..n],
                &mut lin[..n],
                &mut deep[..n],
            );
            if fused {
                gather_fm(views, ids, flat, fm)?;
            } else {
                self.gather_by_field(ids, n, flat, fm, &mut b.field_ids)?;
            }
            self.linear.forward(flat, n, lin)?;
            self.dnn.forward(flat, n, deep, &mut b.dnn)?;
            let out = &mut out[start..start + n];
            for (((o, l), m), d) in out.iter_mut().zip(&*lin).zip(&*fm).zip(&*deep) {
                // Same association as the seed: (linear + fm) + dnn.
                *o = (l + m) + d;
            }
            sigmoid(out);
        }
        Ok(())
    }

    /// The general gather: one field at a time (any mix of table dtypes, any field count),
    /// then the FM term over the gathered rows.
    fn gather_by_field(
        &self,
        ids: &[i64],
        n: usize,
        flat: &mut [f32],
        fm: &mut [f32],
        field_ids: &mut Vec<i64>,
    ) -> Result<()> {
        let nf = self.fields.len();
        let column = grow(field_ids, n);
        for (f, table) in self.fields.iter().enumerate() {
            for (c, row) in column.iter_mut().zip(ids.chunks_exact(nf)) {
                *c = row[f];
            }
            let layout = OutLayout {
                stride: nf * self.dim,
                offset: f * self.dim,
            };
            table.gather(column, flat, layout, self.kernels)?;
        }
        (self.kernels.elementwise.fm_f32.f)(flat, nf, self.dim, fm)
    }

    /// Every id against its own field's table; the first offender (row-major) is the error.
    fn check_ids(&self, ids: &[i64]) -> Result<()> {
        let nf = self.fields.len();
        let bad = |(&id, t): (&i64, &EmbeddingTable)| id as u64 >= t.rows() as u64;
        // Branch-free over the batch (the valid case); then locate the offender.
        let any_bad = ids.chunks_exact(nf).fold(false, |acc, row| {
            row.iter()
                .zip(&self.fields)
                .fold(acc, |acc, p| acc | bad(p))
        });
        if !any_bad {
            return Ok(());
        }
        let (id, t) = ids
            .chunks_exact(nf)
            .flat_map(|row| row.iter().zip(&self.fields))
            .find(|&p| bad(p))
            .map_or((-1, &self.fields[0]), |(&id, t)| (id, t));
        Err(Error::IdOutOfRange {
            table: t.name().to_string(),
            id,
            rows: t.rows(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Model;

    /// The fused and field-by-field paths differ only in summation order inside the FM term.
    const PATHS_TOLERANCE: f32 = 1e-6;

    #[test]
    fn field_by_field_path_matches_the_fused_kernel() {
        for name in ["deepfm_default", "deepfm_alt"] {
            let path = format!(
                "{}/tests/fixtures/{name}.safetensors",
                env!("CARGO_MANIFEST_DIR")
            );
            let Model::DeepFm(m) = Model::open(&path, &Options::default()).expect("open") else {
                panic!("{name} is not a DeepFM");
            };
            let vocab: Vec<usize> = m.vocab_sizes().collect();
            // 300 rows: a full block and a partial one.
            let rows = 300;
            let ids: Vec<i64> = (0..rows * m.fields())
                .map(|i| ((i * 7919) % vocab[i % m.fields()]) as i64)
                .collect();
            let mut fused = vec![0f32; rows];
            let mut by_field = vec![0f32; rows];
            let mut b = BlockBuffers::default();
            m.predict_blocks::<f32>(&ids, rows, &mut fused, &mut b, true)
                .expect("fused");
            m.predict_blocks::<f32>(&ids, rows, &mut by_field, &mut b, false)
                .expect("by field");
            for (i, (a, b)) in fused.iter().zip(&by_field).enumerate() {
                assert!(
                    (a - b).abs() <= PATHS_TOLERANCE,
                    "{name} row {i}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn an_id_error_in_a_later_block_leaves_out_untouched() {
        let path = format!(
            "{}/tests/fixtures/deepfm_default.safetensors",
            env!("CARGO_MANIFEST_DIR")
        );
        let model = Model::open(&path, &Options::default()).expect("open");
        let rows = ROW_BLOCK + 44;
        let mut ids = vec![1i64; rows * 10];
        ids[(rows - 1) * 10 + 3] = 400; // vocabularies are 400
        let mut out = vec![-7.0f32; rows];
        let err = model
            .predict_ids(&ids, rows, &mut out, &mut crate::Workspace::default())
            .unwrap_err();
        assert!(
            matches!(&err, Error::IdOutOfRange { table, id: 400, rows: 400 } if table == "embeddings.3.weight"),
            "{err}"
        );
        assert!(
            out.iter().all(|&v| v == -7.0),
            "out written before the error"
        );
    }

    #[test]
    fn a_row_count_that_overflows_is_an_invalid_argument() {
        let path = format!(
            "{}/tests/fixtures/deepfm_default.safetensors",
            env!("CARGO_MANIFEST_DIR")
        );
        let model = Model::open(&path, &Options::default()).expect("open");
        let err = model
            .predict_ids(
                &[1; 10],
                usize::MAX,
                &mut [0.0],
                &mut crate::Workspace::default(),
            )
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { arg: "rows", .. }),
            "{err}"
        );
    }
}
