//! Fraud: the demo's held-out transaction stream replayed from an empty engine through the
//! streaming features and the detector, with the decisions scored against the labels.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use reckon::metrics::{pr_auc, roc_auc, threshold_metrics};
use reckon::pipelines::fraud::{
    FraudConfig, FraudPipeline, FraudWorkspace, Transaction, DEFAULT_THRESHOLD,
};
use reckon::Options;

use super::{heading, Latencies, Requests};
use crate::Failure;

pub fn run(dir: &Path, lat: &mut Latencies, out: &mut dyn Write) -> Result<(), Failure> {
    heading(out, "Fraud (streaming features → detector → threshold)")?;
    let req = Requests::open(dir, "fraud.safetensors")?;
    let (ts, user, device, intl, label) = (
        req.i64s("ts")?,
        req.i64s("user")?,
        req.i64s("device")?,
        req.i64s("is_international")?,
        req.i64s("label")?,
    );
    let amount = req.f32s("amount")?;
    let txns: Vec<Transaction> = (0..ts.len())
        .map(|i| Transaction {
            user: user[i] as u64,
            device: device[i] as u64,
            timestamp: ts[i] as f64,
            amount: amount[i] as f64,
            is_international: intl[i] != 0,
        })
        .collect();
    let labels: Vec<f32> = label.iter().map(|&l| l as f32).collect();

    let pipeline = FraudPipeline::open(
        dir.join("fraud.safetensors"),
        &Options::default(),
        FraudConfig::default(),
        DEFAULT_THRESHOLD,
    )?;
    let mut ws = FraudWorkspace::default();
    let mut scores = Vec::with_capacity(txns.len());
    let mut flagged = Vec::new();
    let start = Instant::now();
    for (i, t) in txns.iter().enumerate() {
        let d = lat.time("fraud: features + score (1 txn)", || {
            pipeline.score(t, &mut ws)
        })?;
        scores.push(d.score);
        if d.flagged && flagged.len() < 6 {
            flagged.push((i, d));
        }
    }
    let took = start.elapsed();
    writeln!(
        out,
        "  replayed {} transactions ({} users, {:.1}% fraud) from an empty engine in {:.1} ms: {:.0} txn/s",
        txns.len(),
        pipeline.engine().user_count(),
        100.0 * labels.iter().sum::<f32>() / labels.len().max(1) as f32,
        took.as_secs_f64() * 1e3,
        txns.len() as f64 / took.as_secs_f64()
    )?;
    let m = threshold_metrics(&scores, &labels, pipeline.threshold())?;
    writeln!(
        out,
        "  at threshold {}: precision {:.3}, recall {:.3}, F1 {:.3}, false-positive rate {:.4}; ROC-AUC {:.3}, PR-AUC {:.3}",
        pipeline.threshold(),
        m.precision,
        m.recall,
        m.f1,
        m.false_positive_rate,
        roc_auc(&scores, &labels)?,
        pr_auc(&scores, &labels)?
    )?;
    writeln!(out, "  first flagged transactions:")?;
    writeln!(
        out,
        "  {:>6} {:>6} {:>9} {:>5} {:>4} {:>7} {:>6} {:>7} {:>7} {:>6}",
        "txn", "user", "amount", "hour", "intl", "cnt_1h", "dev_u", "new_dev", "score", "label"
    )?;
    for (i, d) in flagged {
        let f = d.features.to_array();
        writeln!(
            out,
            "  {:>6} {:>6} {:>9.2} {:>5.1} {:>4} {:>7} {:>6} {:>7} {:>7.3} {:>6}",
            i, txns[i].user, f[0], f[2], f[4], f[5], f[9], f[10], d.score, label[i]
        )?;
    }
    Ok(())
}
