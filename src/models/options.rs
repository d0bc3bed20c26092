//! How a model is opened and how it treats questionable input.

use crate::error::Result;
use crate::kernels::{selected, table_for, Isa, KernelTable};

/// Options for [`crate::models::Model::open`]. `Options::default()` is what most callers want.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Pin an instruction-set level (`None`: the process-wide choice, `RECKON_ISA` or the best).
    pub isa: Option<Isa>,
    /// Accept NaN / ±inf in dense features instead of rejecting them with
    /// [`crate::Error::NonFiniteInput`]. Off by default: a NaN feature yields a NaN score that
    /// sorts unpredictably downstream, which is worse than an error.
    pub allow_non_finite: bool,
    /// What an id outside its table's vocabulary does (DeepFM fields, two-tower ids).
    pub out_of_vocabulary: OutOfVocabulary,
    /// Threads one call may use: a model's large batch, or one exact item-index scan (or batch
    /// of queries). The caller's thread runs one share and `threads - 1` helpers, started for
    /// the call and joined before it returns, run the rest (no pool is kept). 0 and 1 both mean
    /// the caller's thread only, the default. Results are identical, bit for bit, whatever the
    /// count. Small calls stay on fewer threads (under
    /// [`crate::models::split::MIN_ROWS_PER_THREAD`] rows or
    /// [`crate::kernels::topk::MIN_GROUPS_PER_THREAD`] item groups per thread). Starting a
    /// thread allocates, so only calls that stay on the caller's thread keep the warmed-up
    /// "allocates nothing" guarantee.
    pub threads: usize,
}

/// Policy for ids outside an embedding table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutOfVocabulary {
    /// [`crate::Error::IdOutOfRange`] naming the table and the id (the default).
    #[default]
    Error,
    /// Use this row instead (must exist in every table; checked when the model opens).
    FallbackRow(i64),
}

impl Options {
    /// The kernel table these options select.
    pub fn kernels(&self) -> Result<&'static KernelTable> {
        match self.isa {
            Some(isa) => table_for(isa),
            None => selected(),
        }
    }
}
