//! The three dense-feature models: `ranker`, `ltr` and `fraud`. Each is an MLP whose last layer is
//! its head(s), followed by a small per-row epilogue.

use crate::error::{Error, Result};
use crate::kernels::KernelTable;
use crate::nn::mlp::{row_blocks, ROW_BLOCK};
use crate::nn::sequential::{load_linear, load_sequential, LinearSpec, SequentialSpec};
use crate::nn::{Mlp, MlpWorkspace};
use crate::weights::{Arch, WeightFile};

use super::input::{check_dense, check_len, grow};
use super::split::split_rows;
use super::Options;

/// BatchNorm epsilon when `reckon.bn_eps` is absent (PyTorch's default).
pub const DEFAULT_BN_EPS: f32 = 1e-5;
/// The seed's ranking weights for `p_click, p_engage, p_share`.
pub const DEFAULT_SCORE_WEIGHTS: [f32; 3] = [1.0, 2.0, 3.0];

/// What runs after the MLP.
#[derive(Clone, Debug, PartialEq)]
enum Epilogue {
    /// `ltr`: the raw relevance score.
    Identity,
    /// `fraud`: `sigmoid(logit)`.
    Sigmoid,
    /// `ranker`: three sigmoids and `score = Σ wᵢ·pᵢ`.
    MultiTask([f32; 3]),
}

/// Per-thread scratch for [`DenseModel::predict`].
#[derive(Debug, Default)]
pub struct DenseWorkspace {
    mlp: MlpWorkspace,
    heads: Vec<f32>,
    /// One per helper thread of a split batch ([`Options::threads`]).
    helpers: Vec<DenseWorkspace>,
}

/// `ranker`, `ltr` or `fraud`: dense feature rows in, one row of outputs per input row.
#[derive(Debug)]
pub struct DenseModel {
    arch: Arch,
    mlp: Mlp,
    epilogue: Epilogue,
    allow_non_finite: bool,
    threads: usize,
    kernels: &'static KernelTable,
}

pub(crate) fn bn_eps(file: &WeightFile) -> f32 {
    file.metadata().bn_eps.unwrap_or(DEFAULT_BN_EPS)
}

/// Folds a Sequential's trailing BatchNorm into each head and appends them as one Linear with
/// one output per head (so the ranker's three heads cost one GEMM, not three).
fn attach_heads(
    mut seq: SequentialSpec,
    mut heads: Vec<LinearSpec>,
    eps: f32,
) -> Result<Vec<LinearSpec>> {
    for head in &mut heads {
        if let Some(bn) = &seq.trailing_bn {
            bn.fold_into(head, eps)?;
        }
        if head.out_features != 1 {
            return Err(Error::WrongShape {
                tensor: head.name.clone(),
                expected: format!("[1, {}]", head.in_features),
                actual: vec![head.out_features, head.in_features],
            });
        }
    }
    let first = &heads[0];
    let mut fused = LinearSpec {
        name: first.name.clone(),
        dtype: first.dtype,
        out_features: heads.len(),
        in_features: first.in_features,
        weight: Vec::with_capacity(heads.len() * first.in_features),
        bias: Vec::with_capacity(heads.len()),
        relu: false,
    };
    for head in &heads {
        fused.weight.extend_from_slice(&head.weight);
        fused.bias.extend_from_slice(&head.bias);
    }
    seq.linears.push(fused);
    Ok(seq.linears)
}

impl DenseModel {
    pub(crate) fn load(
        file: &WeightFile,
        opts: &Options,
        kernels: &'static KernelTable,
    ) -> Result<DenseModel> {
        let eps = bn_eps(file);
        let arch = file.arch();
        let (specs, epilogue) = match arch {
            Arch::Ranker => {
                let seq = load_sequential(file, "shared", None, eps)?;
                let width = seq.out_features();
                let heads = ["click_head", "engage_head", "share_head"]
                    .iter()
                    .map(|h| load_linear(file, h, width))
                    .collect::<Result<Vec<_>>>()?;
                let heads_in = heads[0].in_features;
                if let Some(h) = heads.iter().find(|h| h.in_features != heads_in) {
                    return Err(Error::WrongShape {
                        tensor: h.name.clone(),
                        expected: format!("[1, {heads_in}] like '{}'", heads[0].name),
                        actual: vec![h.out_features, h.in_features],
                    });
                }
                let weights = score_weights(file)?;
                (attach_heads(seq, heads, eps)?, Epilogue::MultiTask(weights))
            }
            Arch::Fraud => {
                let seq = load_sequential(file, "network", None, eps)?;
                let width = seq.out_features();
                let head = load_linear(file, "classifier", width)?;
                (attach_heads(seq, vec![head], eps)?, Epilogue::Sigmoid)
            }
            Arch::Ltr => {
                let seq = load_sequential(file, "model", None, eps)?;
                if let Some(bn) = seq.trailing_bn {
                    return Err(Error::Unsupported {
                        tensor: bn.name,
                        reason: "ltr's Sequential must end with its scoring Linear".into(),
                    });
                }
                let last = seq.linears.last().ok_or_else(|| Error::MissingTensor {
                    arch: "ltr",
                    tensor: "model.0.weight".into(),
                })?;
                if last.out_features != 1 {
                    return Err(Error::WrongShape {
                        tensor: last.name.clone(),
                        expected: format!("[1, {}] (one relevance score)", last.in_features),
                        actual: vec![last.out_features, last.in_features],
                    });
                }
                (seq.linears, Epilogue::Identity)
            }
            other => {
                return Err(Error::InvalidArgument {
                    arg: "arch",
                    reason: format!("{other} is not a dense-feature model"),
                })
            }
        };
        let in_features = specs[0].in_features;
        if let Some(names) = &file.metadata().feature_names {
            if names.len() != in_features {
                return Err(Error::BadMetadataValue {
                    key: "reckon.feature_names".into(),
                    value: format!("{} names", names.len()),
                    expected: "one name per input feature of the first Linear",
                });
            }
        }
        Ok(DenseModel {
            arch,
            mlp: Mlp::pack(&specs, in_features, kernels)?,
            epilogue,
            allow_non_finite: opts.allow_non_finite,
            threads: opts.threads,
            kernels,
        })
    }

    /// The architecture (`ranker`, `ltr` or `fraud`).
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Input columns.
    pub fn in_cols(&self) -> usize {
        self.mlp.in_features()
    }

    /// Output columns: 4 for the ranker (`p_click, p_engage, p_share, score`), else 1.
    pub fn out_cols(&self) -> usize {
        match self.epilogue {
            Epilogue::MultiTask(_) => 4,
            _ => 1,
        }
    }

    /// The packed MLP (for inspection and benches).
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// Scores `rows` rows of `x` (`rows × in_cols`) into `out` (`rows × out_cols`).
    ///
    /// The ranker's heads run in blocks of [`ROW_BLOCK`] rows (MLP, then sigmoids and score on
    /// the block), so its head buffer stays small and in cache; the other epilogues run in place.
    pub fn predict(
        &self,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
        ws: &mut DenseWorkspace,
    ) -> Result<()> {
        let (cols, out_cols) = (self.in_cols(), self.out_cols());
        check_dense(x, rows, cols, self.allow_non_finite)?;
        // Saturating: a count that overflows cannot match any real buffer's length.
        check_len("predict", "out", out.len(), rows.saturating_mul(out_cols))?;
        // Helpers' workspaces live in this one (reused), moved out while it serves the caller.
        let mut helpers = std::mem::take(&mut ws.helpers);
        let r = split_rows(
            rows,
            self.threads,
            out,
            out_cols,
            ws,
            &mut helpers,
            |r, out, ws| self.run(&x[r.start * cols..r.end * cols], r.len(), out, ws),
        );
        ws.helpers = helpers;
        r
    }

    /// [`DenseModel::predict`] after its checks, on one thread.
    fn run(&self, x: &[f32], rows: usize, out: &mut [f32], ws: &mut DenseWorkspace) -> Result<()> {
        let cols = self.in_cols();
        let sigmoid = self.kernels.elementwise.sigmoid_f32.f;
        match self.epilogue {
            Epilogue::Identity => self.mlp.forward(x, rows, out, &mut ws.mlp)?,
            Epilogue::Sigmoid => {
                self.mlp.forward(x, rows, out, &mut ws.mlp)?;
                sigmoid(out);
            }
            Epilogue::MultiTask(w) => {
                let heads = grow(&mut ws.heads, ROW_BLOCK.min(rows) * 3);
                for (start, n) in row_blocks(rows) {
                    let (x, heads) = (&x[start * cols..(start + n) * cols], &mut heads[..n * 3]);
                    self.mlp.forward(x, n, heads, &mut ws.mlp)?;
                    let out = &mut out[start * 4..(start + n) * 4];
                    for (o, p) in out.chunks_exact_mut(4).zip(heads.chunks_exact(3)) {
                        o[..3].copy_from_slice(p);
                    }
                    // Sigmoid over whole rows (including the score slot, overwritten next)
                    // keeps the call vectorised instead of three lanes at a time.
                    sigmoid(out);
                    for o in out.chunks_exact_mut(4) {
                        o[3] = w[0] * o[0] + w[1] * o[1] + w[2] * o[2];
                    }
                }
            }
        }
        Ok(())
    }
}

fn score_weights(file: &WeightFile) -> Result<[f32; 3]> {
    match &file.metadata().score_weights {
        None => Ok(DEFAULT_SCORE_WEIGHTS),
        Some(w) => <[f32; 3]>::try_from(w.as_slice()).map_err(|_| Error::BadMetadataValue {
            key: "reckon.score_weights".into(),
            value: format!("{} weights", w.len()),
            expected: "three weights: click, engage, share",
        }),
    }
}
