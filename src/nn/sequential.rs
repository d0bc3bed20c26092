//! Rebuilds an `nn.Sequential` of Linear / ReLU / BatchNorm1d / Dropout from `state_dict` names.
//!
//! The rule (SPEC §2) holds for every seed module: numbered children are read in order; a child with
//! a 2-D `weight` is a Linear, one with `running_mean` is a BatchNorm1d; ReLU follows every Linear
//! except one that is the last parameterised child; ReLU and Dropout have no tensors, so their
//! indices are simply absent. A BatchNorm is folded into the next Linear
//! (`W' = W·diag(s)`, `b' = b + W·t`); one with no Linear after it inside the Sequential is handed
//! back to the caller to fold into whatever heads follow.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::kernels::linear::fold_batchnorm_into_next;
use crate::weights::{Dtype, TensorView, WeightFile};

/// One Linear layer, unpacked: f32 `[out, in]` weights (BatchNorm already folded in), bias, and
/// what it came from. Packing for the kernels happens later, once every fold is done.
#[derive(Clone, Debug)]
pub struct LinearSpec {
    /// Name of the weight tensor (for error messages and `inspect`).
    pub name: String,
    /// Storage dtype of the file's weight; 16-bit weights are re-rounded to it after folding.
    pub dtype: Dtype,
    /// Output features.
    pub out_features: usize,
    /// Input features.
    pub in_features: usize,
    /// `[out, in]` row-major.
    pub weight: Vec<f32>,
    /// `[out]` (zeros when the Linear had `bias=False`).
    pub bias: Vec<f32>,
    /// Whether a ReLU follows.
    pub relu: bool,
}

/// An eval-mode BatchNorm1d as the affine map `y = s·x + t`.
#[derive(Clone, Debug)]
pub struct BatchNormSpec {
    /// Name of the `running_mean` tensor.
    pub name: String,
    /// γ (ones when the BatchNorm had `affine=False`).
    pub gamma: Vec<f32>,
    /// β (zeros when `affine=False`).
    pub beta: Vec<f32>,
    /// Running mean μ.
    pub mean: Vec<f32>,
    /// Running variance.
    pub var: Vec<f32>,
}

impl BatchNormSpec {
    /// Folds this BatchNorm (applied to `linear`'s input) into `linear`.
    pub fn fold_into(&self, linear: &mut LinearSpec, eps: f32) -> Result<()> {
        if self.mean.len() != linear.in_features {
            return Err(Error::WrongShape {
                tensor: linear.name.clone(),
                expected: format!(
                    "[out, {}] to follow BatchNorm '{}'",
                    self.mean.len(),
                    self.name
                ),
                actual: vec![linear.out_features, linear.in_features],
            });
        }
        fold_batchnorm_into_next(
            &mut linear.weight,
            &mut linear.bias,
            &self.gamma,
            &self.beta,
            &self.mean,
            &self.var,
            eps,
        )
    }
}

/// A Sequential, rebuilt: its Linears (BatchNorms folded in) and a BatchNorm left at its end.
#[derive(Debug)]
pub struct SequentialSpec {
    /// The Linears in order.
    pub linears: Vec<LinearSpec>,
    /// A BatchNorm after the last Linear, for the caller to fold into the heads that follow.
    pub trailing_bn: Option<BatchNormSpec>,
}

impl SequentialSpec {
    /// Width of the Sequential's output (`None` for an empty Sequential).
    pub fn out_features(&self) -> Option<usize> {
        match &self.trailing_bn {
            Some(bn) => Some(bn.mean.len()),
            None => self.linears.last().map(|l| l.out_features),
        }
    }
}

enum Child {
    Linear(LinearSpec),
    BatchNorm(BatchNormSpec),
}

/// Reads the Sequential called `prefix` (e.g. `user_mlp`) from `file`, checking that each layer's
/// input width is the previous layer's output width, and folding BatchNorms with `eps`.
/// `input_width`, when known (e.g. the embedding width), is checked against the first layer.
pub fn load_sequential(
    file: &WeightFile,
    prefix: &str,
    input_width: Option<usize>,
    eps: f32,
) -> Result<SequentialSpec> {
    let mut children: BTreeMap<usize, Vec<TensorView<'_>>> = BTreeMap::new();
    let dotted = format!("{prefix}.");
    for t in file.tensors() {
        let Some(rest) = t.name().strip_prefix(&dotted) else {
            continue;
        };
        let (index, _) = rest.split_once('.').unwrap_or((rest, ""));
        // The weights layer already checked the grammar `<prefix>.<n>.<param>`.
        let index: usize = index.parse().map_err(|_| Error::TensorEntry {
            tensor: t.name().to_string(),
            reason: format!("expected `{prefix}.<index>.<param>`"),
        })?;
        children.entry(index).or_default().push(t);
    }

    let mut width = input_width;
    let mut parsed = Vec::with_capacity(children.len());
    for tensors in children.values() {
        let child = read_child(tensors, width)?;
        width = Some(match &child {
            Child::Linear(l) => l.out_features,
            Child::BatchNorm(bn) => bn.mean.len(),
        });
        parsed.push(child);
    }

    let mut linears: Vec<LinearSpec> = Vec::new();
    let mut pending: Option<BatchNormSpec> = None;
    for child in parsed {
        match child {
            Child::Linear(mut linear) => {
                if let Some(bn) = pending.take() {
                    bn.fold_into(&mut linear, eps)?;
                }
                linears.push(linear);
            }
            Child::BatchNorm(bn) => {
                if pending.is_some() {
                    return Err(Error::Unsupported {
                        tensor: bn.name,
                        reason: "two BatchNorms with no Linear between them".into(),
                    });
                }
                pending = Some(bn);
            }
        }
    }
    // ReLU follows every Linear but the last parameterised child. If a BatchNorm closes the
    // Sequential, the last Linear is not the last parameterised child, so it keeps its ReLU.
    if pending.is_none() {
        if let Some(last) = linears.last_mut() {
            last.relu = false;
        }
    }
    Ok(SequentialSpec {
        linears,
        trailing_bn: pending,
    })
}

fn read_child(tensors: &[TensorView<'_>], in_width: Option<usize>) -> Result<Child> {
    let find = |param: &str| {
        tensors
            .iter()
            .find(|t| t.name().rsplit('.').next() == Some(param))
    };
    if let Some(mean) = find("running_mean") {
        let n = mean.numel();
        let name = mean.name().to_string();
        let vector = |t: Option<&TensorView<'_>>, default: f32| -> Result<Vec<f32>> {
            match t {
                None => Ok(vec![default; n]),
                Some(t) if t.numel() == n => t.to_f32_vec(),
                Some(t) => Err(Error::WrongShape {
                    tensor: t.name().to_string(),
                    expected: format!("[{n}] like '{name}'"),
                    actual: t.shape().to_vec(),
                }),
            }
        };
        let var_tensor = find("running_var").ok_or_else(|| Error::MissingTensor {
            arch: "BatchNorm1d",
            tensor: name.replace("running_mean", "running_var"),
        })?;
        if let Some(w) = in_width.filter(|&w| w != n) {
            return Err(Error::WrongShape {
                tensor: name,
                expected: format!("[{w}] (the previous layer's width)"),
                actual: vec![n],
            });
        }
        let var = vector(Some(var_tensor), 1.0)?;
        if let Some(bad) = var.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(Error::Unsupported {
                tensor: var_tensor.name().to_string(),
                reason: format!(
                    "running_var[{bad}] = {} is not a finite non-negative number",
                    var[bad]
                ),
            });
        }
        return Ok(Child::BatchNorm(BatchNormSpec {
            gamma: vector(find("weight"), 1.0)?,
            beta: vector(find("bias"), 0.0)?,
            mean: mean.to_f32_vec()?,
            var,
            name,
        }));
    }
    let weight = find("weight").ok_or_else(|| Error::TensorEntry {
        tensor: tensors[0].name().to_string(),
        reason: "a Sequential child must be a Linear (2-D weight) or a BatchNorm1d (running_mean)"
            .into(),
    })?;
    let linear = read_linear(weight, find("bias"), in_width)?;
    Ok(Child::Linear(linear))
}

/// Reads one `nn.Linear` from its weight and optional bias, checking shapes against the input
/// width (if known).
pub fn read_linear(
    weight: &TensorView<'_>,
    bias: Option<&TensorView<'_>>,
    in_width: Option<usize>,
) -> Result<LinearSpec> {
    let &[out, inp] = weight.shape() else {
        return Err(Error::WrongShape {
            tensor: weight.name().to_string(),
            expected: "[out, in]".into(),
            actual: weight.shape().to_vec(),
        });
    };
    if let Some(w) = in_width.filter(|&w| w != inp) {
        return Err(Error::WrongShape {
            tensor: weight.name().to_string(),
            expected: format!("[out, {w}] (the previous layer's width)"),
            actual: weight.shape().to_vec(),
        });
    }
    let bias = match bias {
        None => vec![0.0; out],
        Some(b) if b.shape() == [out] => b.to_f32_vec()?,
        Some(b) => {
            return Err(Error::WrongShape {
                tensor: b.name().to_string(),
                expected: format!("[{out}] like '{}'", weight.name()),
                actual: b.shape().to_vec(),
            })
        }
    };
    Ok(LinearSpec {
        name: weight.name().to_string(),
        dtype: weight.dtype(),
        out_features: out,
        in_features: inp,
        weight: weight.to_f32_vec()?,
        bias,
        relu: true,
    })
}

/// Reads a head Linear called `name` (e.g. `click_head`) with `in_width` inputs.
pub fn load_linear(file: &WeightFile, name: &str, in_width: Option<usize>) -> Result<LinearSpec> {
    let weight = file.tensor(&format!("{name}.weight"))?;
    let bias_name = format!("{name}.bias");
    let bias = if file.contains(&bias_name) {
        Some(file.tensor(&bias_name)?)
    } else {
        None
    };
    let mut spec = read_linear(&weight, bias.as_ref(), in_width)?;
    spec.relu = false;
    Ok(spec)
}
