//! The `reckon.*` keys of a weight file's `__metadata__`.
//!
//! Unknown `reckon.*` keys are an error rather than ignored: a typo such as `reckon.bn_esp`
//! would otherwise silently load the model with the default epsilon. Keys outside the `reckon.`
//! namespace belong to other tools and are kept untouched.

use std::collections::BTreeMap;

use super::arch::Arch;
use crate::error::{Error, Result};

/// Metadata key naming the architecture (required).
pub const KEY_ARCH: &str = "reckon.arch";
/// Metadata key overriding BatchNorm's epsilon.
pub const KEY_BN_EPS: &str = "reckon.bn_eps";
/// Metadata key with the ranker's per-head score weights.
pub const KEY_SCORE_WEIGHTS: &str = "reckon.score_weights";
/// Metadata key with the input feature names (fraud).
pub const KEY_FEATURE_NAMES: &str = "reckon.feature_names";
/// Metadata key naming the calibration method stored in `calibration.*` tensors.
pub const KEY_CALIBRATION: &str = "reckon.calibration";

const KNOWN_KEYS: [&str; 5] = [
    KEY_ARCH,
    KEY_BN_EPS,
    KEY_SCORE_WEIGHTS,
    KEY_FEATURE_NAMES,
    KEY_CALIBRATION,
];

/// How predicted probabilities are calibrated (SPEC §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Calibration {
    /// The seed's binned ratio map.
    Binned,
    /// Platt scaling: `sigmoid(a·logit + b)`.
    Platt,
    /// Isotonic regression (pool-adjacent-violators).
    Isotonic,
}

impl Calibration {
    /// The metadata spelling.
    pub fn name(self) -> &'static str {
        match self {
            Calibration::Binned => "binned",
            Calibration::Platt => "platt",
            Calibration::Isotonic => "isotonic",
        }
    }
}

/// The parsed `reckon.*` metadata of a weight file.
#[derive(Clone, Debug, PartialEq)]
pub struct Metadata {
    /// `reckon.arch`.
    pub arch: Arch,
    /// `reckon.bn_eps`, when given (finite, > 0).
    pub bn_eps: Option<f32>,
    /// `reckon.score_weights`, when given (finite numbers, at least one).
    pub score_weights: Option<Vec<f32>>,
    /// `reckon.feature_names`, when given (non-empty names).
    pub feature_names: Option<Vec<String>>,
    /// `reckon.calibration`, when given.
    pub calibration: Option<Calibration>,
    /// Every key outside the `reckon.` namespace, untouched.
    pub other: BTreeMap<String, String>,
}

impl Metadata {
    /// Parses the raw `__metadata__` map.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Metadata> {
        // Unknown keys first: a misspelt `reckon.arch` should be reported as the typo it is.
        if let Some(key) = map
            .keys()
            .find(|k| k.starts_with("reckon.") && !KNOWN_KEYS.contains(&k.as_str()))
        {
            return Err(Error::UnknownMetadataKey { key: key.clone() });
        }
        let arch = Arch::parse(map.get(KEY_ARCH).ok_or(Error::MissingArch)?)?;
        let get = |key: &'static str| map.get(key).map(|v| (key, v.as_str()));
        Ok(Metadata {
            arch,
            bn_eps: get(KEY_BN_EPS).map(|(k, v)| parse_eps(k, v)).transpose()?,
            score_weights: get(KEY_SCORE_WEIGHTS)
                .map(|(k, v)| parse_floats(k, v))
                .transpose()?,
            feature_names: get(KEY_FEATURE_NAMES)
                .map(|(k, v)| parse_names(k, v))
                .transpose()?,
            calibration: get(KEY_CALIBRATION)
                .map(|(k, v)| parse_calibration(k, v))
                .transpose()?,
            other: map
                .iter()
                .filter(|(k, _)| !k.starts_with("reckon."))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }
}

fn bad(key: &str, value: &str, expected: &'static str) -> Error {
    Error::BadMetadataValue {
        key: key.to_string(),
        value: value.to_string(),
        expected,
    }
}

fn parse_eps(key: &str, value: &str) -> Result<f32> {
    const EXPECTED: &str = "a finite number > 0";
    match value.trim().parse::<f32>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(bad(key, value, EXPECTED)),
    }
}

fn parse_floats(key: &str, value: &str) -> Result<Vec<f32>> {
    const EXPECTED: &str = "comma-separated finite numbers";
    value
        .split(',')
        .map(|s| match s.trim().parse::<f32>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(bad(key, value, EXPECTED)),
        })
        .collect()
}

fn parse_names(key: &str, value: &str) -> Result<Vec<String>> {
    const EXPECTED: &str = "comma-separated non-empty names";
    value
        .split(',')
        .map(|s| match s.trim() {
            "" => Err(bad(key, value, EXPECTED)),
            name => Ok(name.to_string()),
        })
        .collect()
}

fn parse_calibration(key: &str, value: &str) -> Result<Calibration> {
    match value.trim() {
        "binned" => Ok(Calibration::Binned),
        "platt" => Ok(Calibration::Platt),
        "isotonic" => Ok(Calibration::Isotonic),
        _ => Err(bad(key, value, "one of binned, platt, isotonic")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_every_known_key_and_keeps_foreign_ones() {
        let m = Metadata::from_map(&map(&[
            ("reckon.arch", "ranker"),
            ("reckon.bn_eps", "1e-3"),
            ("reckon.score_weights", "1, 2,3.5"),
            ("reckon.feature_names", "a,b"),
            ("reckon.calibration", "platt"),
            ("format", "pt"),
        ]))
        .unwrap();
        assert_eq!(m.arch, Arch::Ranker);
        assert_eq!(m.bn_eps, Some(1e-3));
        assert_eq!(m.score_weights, Some(vec![1.0, 2.0, 3.5]));
        assert_eq!(
            m.feature_names,
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(m.calibration, Some(Calibration::Platt));
        assert_eq!(m.other, map(&[("format", "pt")]));
    }

    #[test]
    fn rejects_bad_values() {
        for (key, value) in [
            ("reckon.bn_eps", "0"),
            ("reckon.bn_eps", "-1"),
            ("reckon.bn_eps", "NaN"),
            ("reckon.score_weights", "1,,2"),
            ("reckon.score_weights", "1,inf"),
            ("reckon.feature_names", "a, ,b"),
            ("reckon.calibration", "magic"),
        ] {
            let err = Metadata::from_map(&map(&[("reckon.arch", "fraud"), (key, value)]));
            assert!(
                matches!(err, Err(Error::BadMetadataValue { .. })),
                "{key}={value}: {err:?}"
            );
        }
    }

    #[test]
    fn a_typo_in_arch_is_reported_as_unknown_key() {
        let err = Metadata::from_map(&map(&[("reckon.acrh", "fraud")]));
        assert!(matches!(err, Err(Error::UnknownMetadataKey { key }) if key == "reckon.acrh"));
    }
}
