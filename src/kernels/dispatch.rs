//! The one place that chooses an instruction set.
//!
//! Like tract-linalg, a table is built from the portable kernels first and each ISA overlays
//! the entries it does better. The choice is made once per process ([`selected`]), honouring
//! `RECKON_ISA=portable|avx2|avx512`; tests build a table per level with [`KernelTable::for_isa`]
//! and run the same property tests against each.
//!
//! Every entry is a [`Kernel`]: a function pointer plus the name and level of the body behind it,
//! so a test can prove that forcing `avx512` really ran AVX-512 code and not a silent fallback.

use std::fmt;
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// An instruction-set level, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Baseline for the target (SSE2 on x86-64, NEON on aarch64) through `wide`.
    Portable,
    /// AVX2 + FMA + F16C (Haswell and later).
    Avx2,
    /// AVX-512 F/BW/DQ/VL (Skylake-SP and later); `avx512_bf16` is used where present.
    Avx512,
}

/// Environment variable that forces a level.
pub const ISA_ENV: &str = "RECKON_ISA";

impl Isa {
    /// All levels, lowest first.
    pub const ALL: [Isa; 3] = [Isa::Portable, Isa::Avx2, Isa::Avx512];

    /// Lower-case name, as accepted by `RECKON_ISA` and used in kernel names.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// Parses a `RECKON_ISA` value.
    pub fn parse(s: &str) -> Option<Isa> {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Whether this CPU can run kernels of this level.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                Isa::Avx2.is_available()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Every level this CPU can run, lowest first.
    pub fn available() -> Vec<Isa> {
        Isa::ALL
            .into_iter()
            .filter(|isa| isa.is_available())
            .collect()
    }

    /// The best level this CPU can run.
    pub fn best() -> Isa {
        Isa::ALL
            .into_iter()
            .rev()
            .find(|isa| isa.is_available())
            .unwrap_or(Isa::Portable)
    }

    /// The level `RECKON_ISA` forces, if set. Errors if it names no level or one this CPU lacks:
    /// running AVX-512 code on a CPU without it would kill the process with SIGILL, and silently
    /// running something else would make a forced test run prove nothing.
    pub fn forced() -> Result<Option<Isa>> {
        let Ok(raw) = std::env::var(ISA_ENV) else {
            return Ok(None);
        };
        if raw.trim().is_empty() {
            return Ok(None);
        }
        let isa = Isa::parse(&raw).ok_or_else(|| Error::UnsupportedIsa {
            requested: raw.clone(),
            reason: "expected one of portable, avx2, avx512",
        })?;
        if !isa.is_available() {
            return Err(Error::UnsupportedIsa {
                requested: raw,
                reason: "this CPU lacks that instruction set",
            });
        }
        Ok(Some(isa))
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One kernel entry: a function pointer and the body it points to.
#[derive(Clone, Copy)]
pub struct Kernel<F: Copy> {
    /// `{op}_{dtype}_{isa}`, identical to the bench id.
    pub name: &'static str,
    /// The level of the body behind `f` (may be lower than the table's when no better body exists).
    pub isa: Isa,
    /// The body.
    pub f: F,
}

impl<F: Copy> fmt::Debug for Kernel<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.isa)
    }
}

/// All kernels for one level. Each op family keeps its own sub-table next to its code.
#[derive(Clone, Debug)]
pub struct KernelTable {
    /// The level this table was built for.
    pub isa: Isa,
    /// Packed GEMM / GEMV micro-kernels.
    pub linear: super::linear::LinearKernels,
    /// Fused dot-product + top-k scans.
    pub topk: super::topk::TopkKernels,
    /// Gather, FM, normalisation and activations.
    pub elementwise: super::elementwise::ElementwiseKernels,
}

impl KernelTable {
    /// Builds the table for `isa`: portable entries first, then the level's overlays.
    /// Errors if this CPU cannot run `isa`.
    pub fn for_isa(isa: Isa) -> Result<KernelTable> {
        if !isa.is_available() {
            return Err(Error::UnsupportedIsa {
                requested: isa.name().to_string(),
                reason: "this CPU lacks that instruction set",
            });
        }
        Ok(KernelTable {
            isa,
            linear: super::linear::LinearKernels::for_isa(isa),
            topk: super::topk::TopkKernels::for_isa(isa),
            elementwise: super::elementwise::ElementwiseKernels::for_isa(isa),
        })
    }

    /// Tables for every level this CPU has, leaked so kernels can hold `&'static` references.
    /// Meant for tests and benches that compare levels; called once per process.
    pub fn all_available() -> Vec<&'static KernelTable> {
        Isa::available()
            .into_iter()
            .filter_map(|isa| KernelTable::for_isa(isa).ok())
            .map(|t| &*Box::leak(Box::new(t)))
            .collect()
    }
}

/// The table for `isa`, built once per process and shared (for callers that pin a level, e.g.
/// a model opened with an explicit ISA option). Errors if this CPU cannot run `isa`.
pub fn table_for(isa: Isa) -> Result<&'static KernelTable> {
    static TABLES: [OnceLock<Option<KernelTable>>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = &TABLES[Isa::ALL.iter().position(|&i| i == isa).unwrap_or(0)];
    slot.get_or_init(|| KernelTable::for_isa(isa).ok())
        .as_ref()
        .ok_or_else(|| Error::UnsupportedIsa {
            requested: isa.name().to_string(),
            reason: "this CPU lacks that instruction set",
        })
}

/// The process-wide table: `RECKON_ISA` if set, else the best level. Built once.
pub fn selected() -> Result<&'static KernelTable> {
    static SELECTED: OnceLock<std::result::Result<KernelTable, String>> = OnceLock::new();
    let built = SELECTED.get_or_init(|| {
        let isa = match Isa::forced() {
            Ok(forced) => forced.unwrap_or_else(Isa::best),
            Err(e) => return Err(e.to_string()),
        };
        KernelTable::for_isa(isa).map_err(|e| e.to_string())
    });
    match built {
        Ok(table) => Ok(table),
        Err(_) => {
            // Re-derive the typed error; the cached string only records that it failed.
            Isa::forced()?;
            Err(Error::UnsupportedIsa {
                requested: std::env::var(ISA_ENV).unwrap_or_default(),
                reason: "kernel table could not be built",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_every_level() {
        for isa in Isa::ALL {
            assert_eq!(Isa::parse(isa.name()), Some(isa));
        }
        assert_eq!(Isa::parse("AVX512"), Some(Isa::Avx512));
        assert_eq!(Isa::parse("sse9"), None);
    }

    #[test]
    fn portable_is_always_available() {
        assert!(Isa::Portable.is_available());
        assert!(Isa::available().contains(&Isa::best()));
    }
}
