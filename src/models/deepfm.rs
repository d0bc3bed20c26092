//! DeepFM (SPEC §3): per-field embeddings `[B, F, D]`; `fm = ½ Σ_d ((Σ_f e)² − Σ_f e²)`;
//! `linear` and `dnn` over the flattened `[B, F·D]`; `sigmoid(linear + fm + dnn)`.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::kernels::elementwise::OutLayout;
use crate::kernels::linear::PackedLinear;
use crate::kernels::KernelTable;
use crate::nn::mlp::pack_linear;
use crate::nn::sequential::{load_linear, load_sequential};
use crate::nn::{EmbeddingTable, Mlp, MlpWorkspace};
use crate::weights::WeightFile;

use super::dense::bn_eps;
use super::input::{check_len, grow};
use super::{Options, OutOfVocabulary};

/// A DeepFM CTR model.
#[derive(Debug)]
pub struct DeepFm {
    fields: Vec<EmbeddingTable>,
    dim: usize,
    linear: PackedLinear,
    dnn: Mlp,
    oov: OutOfVocabulary,
    kernels: &'static KernelTable,
}

/// Scratch for [`DeepFm::predict_ids`].
#[derive(Debug, Default)]
pub struct DeepFmWorkspace {
    ids: Vec<i64>,
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
    pub fn predict_ids(
        &self,
        ids: &[i64],
        rows: usize,
        out: &mut [f32],
        ws: &mut DeepFmWorkspace,
    ) -> Result<()> {
        let nf = self.fields.len();
        check_len("predict_ids", "ids", ids.len(), rows * nf)?;
        check_len("predict_ids", "out", out.len(), rows)?;
        let flat_w = nf * self.dim;
        // Field-major ids, so each table's gather reads one contiguous id list.
        let field_ids = grow(&mut ws.ids, rows * nf);
        for (r, row) in ids.chunks_exact(nf).enumerate() {
            for (f, &id) in row.iter().enumerate() {
                field_ids[f * rows + r] = self.resolve(id, f);
            }
        }
        let flat = grow(&mut ws.flat, rows * flat_w);
        for (f, table) in self.fields.iter().enumerate() {
            let layout = OutLayout {
                stride: flat_w,
                offset: f * self.dim,
            };
            table.gather(
                &field_ids[f * rows..(f + 1) * rows],
                flat,
                layout,
                self.kernels,
            )?;
        }
        let fm = grow(&mut ws.fm, rows);
        (self.kernels.elementwise.fm_f32.f)(flat, nf, self.dim, fm)?;
        let lin = grow(&mut ws.linear, rows);
        self.linear.forward(flat, rows, lin)?;
        let deep = grow(&mut ws.deep, rows);
        self.dnn.forward(flat, rows, deep, &mut ws.dnn)?;
        for (((o, l), m), d) in out
            .iter_mut()
            .zip(lin.iter())
            .zip(fm.iter())
            .zip(deep.iter())
        {
            // Same association as the seed: (linear + fm) + dnn.
            *o = (l + m) + d;
        }
        (self.kernels.elementwise.sigmoid_f32.f)(out);
        Ok(())
    }

    fn resolve(&self, id: i64, field: usize) -> i64 {
        match self.oov {
            OutOfVocabulary::FallbackRow(row)
                if id < 0 || id as u64 >= self.fields[field].rows() as u64 =>
            {
                row
            }
            _ => id,
        }
    }
}
