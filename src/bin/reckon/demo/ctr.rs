//! CTR: DeepFM pCTR on held-out impressions, calibration fitted on one half and judged on the
//! other (ECE and log loss before and after), and the calibrated pipeline's latency.

use std::io::Write;
use std::path::Path;

use reckon::metrics::{expected_calibration_error, log_loss, roc_auc, DEFAULT_ECE_BINS};
use reckon::models::Model;
use reckon::pipelines::ctr::{Calibration, CtrPipeline, Method, DEFAULT_BINS};
use reckon::{Options, Workspace};

use super::{heading, Latencies, Requests};
use crate::Failure;

pub fn run(
    dir: &Path,
    requests: usize,
    lat: &mut Latencies,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    heading(out, "CTR (DeepFM → pCTR → calibration)")?;
    let path = dir.join("deepfm.safetensors");
    let req = Requests::open(dir, "deepfm.safetensors")?;
    let (ids, label) = (req.i64s("ids")?, req.i64s("label")?);
    let labels: Vec<f32> = label.iter().map(|&l| l as f32).collect();
    let rows = labels.len();
    let plain = CtrPipeline::open(&path, &Options::default())?;
    let fields = plain.fields();
    let mut ws = Workspace::default();
    let scores = lat.time(&format!("ctr: DeepFM batch of {rows}"), || {
        plain.predict(&ids, rows, &mut ws)
    })?;
    let half = rows / 2;
    let (fit_p, fit_y) = (&scores.pctr[..half], &labels[..half]);
    let (test_p, test_y) = (&scores.pctr[half..], &labels[half..]);
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
    writeln!(
        out,
        "  {rows} held-out impressions, {fields} fields; AUC {:.3}; fit calibration on {half}, judge on {}",
        roc_auc(&scores.pctr, &labels)?,
        rows - half
    )?;
    writeln!(
        out,
        "  observed CTR on the judged half: {:.4}",
        mean(test_y)
    )?;
    writeln!(
        out,
        "  {:<14} {:>10} {:>10} {:>10}",
        "calibration", "mean pCTR", "ECE", "log loss"
    )?;
    let line = |out: &mut dyn Write, name: &str, p: &[f32]| -> Result<(), Failure> {
        let ece = expected_calibration_error(p, test_y, DEFAULT_ECE_BINS)?;
        writeln!(
            out,
            "  {:<14} {:>10.4} {:>10.4} {:>10.4}",
            name,
            mean(p),
            ece,
            log_loss(p, test_y)?
        )?;
        Ok(())
    };
    line(out, "none", test_p)?;
    let mut best: Option<(f64, Calibration)> = None;
    for method in [Method::Binned, Method::Platt, Method::Isotonic] {
        let cal = Calibration::fit(method, fit_p, fit_y, DEFAULT_BINS)?;
        let mut calibrated = vec![0f32; test_p.len()];
        cal.apply(test_p, &mut calibrated)?;
        line(out, method.name(), &calibrated)?;
        let ece = expected_calibration_error(&calibrated, test_y, DEFAULT_ECE_BINS)?;
        if best.as_ref().is_none_or(|(b, _)| ece < *b) {
            best = Some((ece, cal));
        }
    }

    let Model::DeepFm(model) = Model::open(&path, &Options::default())? else {
        return Err(Failure::Usage(
            "deepfm.safetensors is not a deepfm model".into(),
        ));
    };
    let calibrated = CtrPipeline::new(model, best.map(|(_, c)| c));
    for i in 0..requests {
        let r = i % rows;
        lat.time("ctr: pCTR + calibration (1 impression)", || {
            calibrated.predict(&ids[r * fields..(r + 1) * fields], 1, &mut ws)
        })?;
    }
    for i in 0..requests.min(100) {
        let r = (i * 256) % (rows - 256);
        lat.time("ctr: pCTR + calibration (batch of 256)", || {
            calibrated.predict(&ids[r * fields..(r + 256) * fields], 256, &mut ws)
        })?;
    }
    writeln!(out, "  (the demo model was trained to near-calibration; fitted on {half} rows, calibration mostly adds variance here)")?;
    Ok(())
}
