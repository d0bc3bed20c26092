//! `reckon predict` run as a real process on the parity fixtures: `.npy` and `.csv` round trips
//! reproduce the fixtures' expected outputs, and every refusal exits 1 with a message that says
//! what was wrong and where, without a panic and without leaving an output file behind.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use npyz::WriterBuilder;
use reckon::models::Tower;
use reckon::weights::{Container, TensorView};
use reckon::{Model, Options};

/// The fixtures' expected outputs are PyTorch in float64; reckon's f32 result is within 1e-5
/// relative (SPEC §3, checked by tests/models_parity.rs). The CLI must add no error of its own:
/// its CSV numbers are printed in the shortest form that reads back as the same f32.
const TOL: f32 = 1e-5;
/// Values below this fraction of the output's largest magnitude are compared at that scale,
/// as in tests/models_parity.rs (a 1e-12 probability next to 0.9 has no meaningful digits).
const FLOOR: f32 = 1e-3;
/// The f32 fixtures: both configurations of each architecture.
const FIXTURES: [&str; 10] = [
    "ranker_default",
    "ranker_alt",
    "ltr_default",
    "ltr_alt",
    "fraud_default",
    "fraud_alt",
    "deepfm_default",
    "deepfm_alt",
    "two_tower_default",
    "two_tower_alt",
];

// ---- running the tool and scratch files --------------------------------------------------------

fn predict(model: &str, input: &Path, output: &Path, flags: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reckon"))
        .arg("predict")
        .args([fixture(model).as_path(), input, output])
        .args(flags)
        .output()
        .expect("run reckon")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.safetensors"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 0, or fail with what the tool said.
fn assert_ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
}

/// Exit `code` with a message containing every needle, and no panic.
fn assert_refused(out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "missing '{needle}' in: {err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

/// A directory of its own under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "reckon-predict-{}-{test}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- tables --------------------------------------------------------------------------------------

/// `shape` and row-major values of a fixture io tensor, as f32 or i64.
struct Table<T> {
    shape: Vec<usize>,
    values: Vec<T>,
}

/// A fixture io tensor, its values fetched by `get` (`to_f32_vec` or `as_i64`).
fn io<T>(
    name: &str,
    tensor: &str,
    get: impl Fn(&TensorView) -> reckon::Result<Vec<T>>,
) -> Table<T> {
    let bytes = std::fs::read(fixture(&format!("{name}.io"))).expect("io fixture");
    let io = Container::parse(&bytes).expect("io fixture parses");
    let t = io.tensor(tensor).expect("io tensor");
    let values = get(&t).expect("values of the expected dtype");
    Table {
        shape: t.shape().to_vec(),
        values,
    }
}

fn io_f32(name: &str, tensor: &str) -> Table<f32> {
    io(name, tensor, |t| t.to_f32_vec())
}

fn io_i64(name: &str, tensor: &str) -> Table<i64> {
    io(name, tensor, |t| t.as_i64().map(|v| v.into_owned()))
}

fn write_npy<T: npyz::AutoSerialize + Copy>(
    path: &Path,
    shape: &[usize],
    values: &[T],
    order: npyz::Order,
) {
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut out = Vec::new();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape)
        .order(order)
        .writer(&mut out)
        .begin_nd()
        .unwrap();
    w.extend(values.iter().copied()).unwrap();
    w.finish().unwrap();
    std::fs::write(path, out).unwrap();
}

fn read_npy(path: &Path) -> Table<f32> {
    let bytes = std::fs::read(path).expect("output written");
    let npy = npyz::NpyFile::new(&bytes[..]).expect("output is a valid .npy");
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    Table {
        shape,
        values: npy.into_vec().expect("f32 data"),
    }
}

/// A CSV file of `values` in rows of `cols`, with `header` as its first line when given.
fn write_csv<T: std::fmt::Display>(path: &Path, header: Option<&str>, cols: usize, values: &[T]) {
    let mut text = header.map_or(String::new(), |h| format!("{h}\n"));
    for row in values.chunks(cols) {
        let row: Vec<String> = row.iter().map(T::to_string).collect();
        text += &row.join(",");
        text += "\n";
    }
    std::fs::write(path, text).unwrap();
}

/// Header and values of a CSV output.
fn read_csv(path: &Path) -> (String, Vec<f32>) {
    let text = std::fs::read_to_string(path).expect("output written");
    let mut lines = text.lines();
    let header = lines.next().expect("a header").to_string();
    let values = lines
        .flat_map(|l| {
            l.split(',')
                .map(|v| v.parse::<f32>().expect("a number"))
                .collect::<Vec<_>>()
        })
        .collect();
    (header, values)
}

// ---- the comparison -----------------------------------------------------------------------------

/// `|got − want| ≤ TOL · magnitude`, the magnitude being `|want|` (floored) or, for two-tower
/// vectors (used only in dot products), the row's norm.
fn assert_close(what: &str, got: &[f32], want: &[f32], row_norm: Option<usize>) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let magnitude = match row_norm {
            Some(n) => want[i / n * n..][..n]
                .iter()
                .map(|v| v * v)
                .sum::<f32>()
                .sqrt(),
            None => w.abs().max(FLOOR * scale),
        };
        assert!(
            (g - w).abs() <= TOL * magnitude,
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

/// One case per model input: (tower flag, input tensor, expected tensor).
fn cases(name: &str) -> Vec<(&'static [&'static str], &'static str, &'static str)> {
    if name.starts_with("two_tower") {
        vec![
            (&[], "user_ids", "user_vectors"),
            (&["--tower", "item"], "item_ids", "item_vectors"),
        ]
    } else {
        vec![(&[], "input", "output")]
    }
}

/// Writes `name`'s input tensor to `path` in the format its extension names.
fn write_input(name: &str, tensor: &str, path: &Path, csv_header: bool) {
    if tensor.ends_with("_ids") || name.starts_with("deepfm") {
        write_table(path, &io_i64(name, tensor), csv_header);
    } else {
        write_table(path, &io_f32(name, tensor), csv_header);
    }
}

fn write_table<T: npyz::AutoSerialize + std::fmt::Display + Copy>(
    path: &Path,
    t: &Table<T>,
    csv_header: bool,
) {
    let cols = t.shape.get(1).copied().unwrap_or(1);
    if path.extension().is_some_and(|e| e == "npy") {
        write_npy(path, &t.shape, &t.values, npyz::Order::C);
    } else {
        let names: Vec<String> = (0..cols).map(|c| format!("f{c}")).collect();
        write_csv(
            path,
            csv_header.then(|| names.join(",")).as_deref(),
            cols,
            &t.values,
        );
    }
}

fn row_norm(name: &str, shape: &[usize]) -> Option<usize> {
    name.starts_with("two_tower").then(|| shape[1])
}

// ---- round trips --------------------------------------------------------------------------------

#[test]
fn npy_round_trip_reproduces_every_fixture() {
    let dir = Scratch::new("npy");
    for name in FIXTURES {
        for (flags, input, expected) in cases(name) {
            let (x, y) = (
                dir.path(&format!("{name}-{input}.npy")),
                dir.path(&format!("{name}-{expected}.npy")),
            );
            write_input(name, input, &x, false);
            assert_ok(&predict(name, &x, &y, flags));
            let (got, want) = (read_npy(&y), io_f32(name, expected));
            assert_eq!(
                got.shape, want.shape,
                "{name} {expected}: 1-D for one column, else 2-D"
            );
            assert_close(
                &format!("{name} {expected}"),
                &got.values,
                &want.values,
                row_norm(name, &want.shape),
            );
        }
    }
}

#[test]
fn csv_round_trip_reproduces_every_fixture_with_or_without_a_header() {
    let dir = Scratch::new("csv");
    for (k, name) in FIXTURES.into_iter().enumerate() {
        for (flags, input, expected) in cases(name) {
            let (x, y) = (
                dir.path(&format!("{name}-{input}.csv")),
                dir.path(&format!("{name}-{expected}.csv")),
            );
            write_input(name, input, &x, k % 2 == 0);
            assert_ok(&predict(name, &x, &y, flags));
            let (header, got) = read_csv(&y);
            let want = io_f32(name, expected);
            let names = match name.rsplit_once('_').map_or(name, |(arch, _)| arch) {
                "ranker" => "p_click,p_engage,p_share,score".to_string(),
                "ltr" => "score".into(),
                "fraud" => "probability".into(),
                "deepfm" => "pctr".into(),
                _ => {
                    let side = if flags.is_empty() { "user" } else { "item" };
                    (0..want.shape[1])
                        .map(|i| format!("{side}_{i}"))
                        .collect::<Vec<_>>()
                        .join(",")
                }
            };
            assert_eq!(header, names, "{name}");
            assert_close(
                &format!("{name} {expected}"),
                &got,
                &want.values,
                row_norm(name, &want.shape),
            );
        }
    }
}

#[test]
fn float64_int32_fortran_order_and_small_batches_give_the_same_outputs() {
    let dir = Scratch::new("variants");
    let x = io_f32("ranker_alt", "input");
    let want = io_f32("ranker_alt", "output");
    let x64: Vec<f64> = x.values.iter().map(|&v| f64::from(v)).collect();
    write_npy(&dir.path("x64.npy"), &x.shape, &x64, npyz::Order::C);
    // Fortran order stores column by column: write the transpose's values under that flag.
    let (r, c) = (x.shape[0], x.shape[1]);
    let by_col: Vec<f32> = (0..r * c).map(|i| x.values[(i % r) * c + i / r]).collect();
    write_npy(&dir.path("xf.npy"), &x.shape, &by_col, npyz::Order::Fortran);
    write_npy(&dir.path("x.npy"), &x.shape, &x.values, npyz::Order::C);
    for (input, flags) in [
        ("x64.npy", &[][..]),
        ("xf.npy", &[]),
        ("x.npy", &["--batch", "2", "--isa", "portable"]),
    ] {
        let y = dir.path("y.npy");
        assert_ok(&predict("ranker_alt", &dir.path(input), &y, flags));
        assert_close(input, &read_npy(&y).values, &want.values, None);
    }
    let ids = io_i64("two_tower_alt", "user_ids");
    let ids32: Vec<i32> = ids
        .values
        .iter()
        .map(|&v| i32::try_from(v).unwrap())
        .collect();
    write_npy(&dir.path("ids32.npy"), &ids.shape, &ids32, npyz::Order::C);
    assert_ok(&predict(
        "two_tower_alt",
        &dir.path("ids32.npy"),
        &dir.path("v.npy"),
        &["--batch", "4"],
    ));
    let want = io_f32("two_tower_alt", "user_vectors");
    assert_close(
        "int32 ids",
        &read_npy(&dir.path("v.npy")).values,
        &want.values,
        Some(want.shape[1]),
    );
}

// ---- refusals -----------------------------------------------------------------------------------

#[test]
fn wrong_column_count_says_expected_got_and_what_the_model_takes() {
    let dir = Scratch::new("width");
    let (x, y) = (dir.path("x.npy"), dir.path("y.npy"));
    write_npy(&x, &[2, 5], &[0f32; 10], npyz::Order::C);
    let out = predict("ltr_default", &x, &y, &[]);
    assert_refused(
        &out,
        1,
        &[
            "x.npy",
            "5 columns",
            "expected 136",
            "ltr model takes 136 dense feature columns",
        ],
    );
    assert!(!y.exists(), "no output on failure");
    let csv = dir.path("x.csv");
    write_csv(&csv, None, 3, &[1i64, 2, 3]);
    let out = predict("deepfm_default", &csv, &y, &[]);
    assert_refused(
        &out,
        1,
        &[
            "3 columns",
            "expected 10",
            "deepfm model takes 10 integer id columns",
        ],
    );
}

#[test]
fn non_finite_input_is_refused_with_row_and_column_unless_allowed() {
    let dir = Scratch::new("nan");
    let mut x = io_f32("fraud_default", "input");
    x.values[6 * 11 + 4] = f32::NAN;
    let (npy, csv, y) = (dir.path("x.npy"), dir.path("x.csv"), dir.path("y.npy"));
    write_npy(&npy, &x.shape, &x.values, npyz::Order::C);
    // Batches of 4: the NaN is row 2 of the second chunk, and must still be reported as row 6.
    assert_refused(
        &predict("fraud_default", &npy, &y, &["--batch", "4"]),
        1,
        &[
            "x.npy",
            "row 6",
            "column 4",
            "not a finite number",
            "--allow-non-finite",
        ],
    );
    assert!(!y.exists(), "no output on failure");
    write_csv(&csv, Some("a,b,c,d,e,f,g,h,i,j,k"), 11, &x.values);
    assert_refused(
        &predict("fraud_default", &csv, &y, &[]),
        1,
        &["row 6 (line 8), column 4"],
    );
    assert_ok(&predict("fraud_default", &npy, &y, &["--allow-non-finite"]));
    assert!(read_npy(&y).values[6].is_nan());
}

#[test]
fn out_of_vocabulary_ids_name_the_table_the_id_and_the_vocabulary() {
    let dir = Scratch::new("oov");
    let model = Model::open(fixture("two_tower_default"), &Options::default()).unwrap();
    let Model::TwoTower(tt) = &model else {
        panic!("a two_tower fixture")
    };
    let vocab = tt.vocab(Tower::User);
    let (x, y) = (dir.path("ids.npy"), dir.path("y.csv"));
    write_npy(&x, &[3], &[0i64, vocab as i64, 1], npyz::Order::C);
    let out = predict("two_tower_default", &x, &y, &[]);
    let id = format!("id {vocab}");
    let rows = format!("({vocab} rows");
    assert_refused(
        &out,
        1,
        &[
            "ids.npy",
            &id,
            "'user_embedding.weight'",
            &rows,
            "--oov-fallback-row",
        ],
    );
    assert!(!y.exists(), "no output on failure");
    assert_ok(&predict(
        "two_tower_default",
        &x,
        &y,
        &["--oov-fallback-row", "0"],
    ));
    let (_, v) = read_csv(&y);
    let d = tt.dim();
    assert_eq!(v[d..2 * d], v[..d], "the unknown id scored as row 0");
    let out = predict(
        "two_tower_default",
        &x,
        &y,
        &["--oov-fallback-row", &vocab.to_string()],
    );
    assert_refused(&out, 2, &["--oov-fallback-row", "user_embedding.weight"]);

    let mut ids = io_i64("deepfm_default", "input");
    ids.values[3] = -1;
    let csv = dir.path("ids.csv");
    write_csv(&csv, None, ids.shape[1], &ids.values);
    assert_refused(
        &predict("deepfm_default", &csv, &y, &[]),
        1,
        &["id -1", "'embeddings.3.weight'", "rows"],
    );
}

#[test]
fn a_float_npy_for_an_id_model_is_a_dtype_error() {
    let dir = Scratch::new("dtype");
    let (x, y) = (dir.path("x.npy"), dir.path("y.npy"));
    write_npy(&x, &[2, 10], &[1f32; 20], npyz::Order::C);
    assert_refused(
        &predict("deepfm_default", &x, &y, &[]),
        1,
        &["x.npy", "'<f4'", "deepfm model takes integer ids"],
    );
    write_npy(&x, &[2, 11], &[1i64; 22], npyz::Order::C);
    assert_refused(
        &predict("fraud_default", &x, &y, &[]),
        1,
        &["'<i8'", "fraud model takes dense features"],
    );
}

#[test]
fn malformed_npy_files_are_refused() {
    let dir = Scratch::new("badnpy");
    let (x, y) = (dir.path("x.npy"), dir.path("y.npy"));
    std::fs::write(&x, b"this is not numpy").unwrap();
    assert_refused(
        &predict("fraud_default", &x, &y, &[]),
        1,
        &["x.npy", "not a valid .npy file"],
    );
    write_npy(&x, &[4, 11], &[0.5f32; 44], npyz::Order::C);
    let bytes = std::fs::read(&x).unwrap();
    std::fs::write(&x, &bytes[..bytes.len() - 10]).unwrap();
    assert_refused(
        &predict("fraud_default", &x, &y, &[]),
        1,
        &["x.npy", "truncated"],
    );
    assert!(!y.exists(), "no output on failure");
    write_npy(&x, &[2, 2, 11], &[0.5f32; 44], npyz::Order::C);
    assert_refused(
        &predict("fraud_default", &x, &y, &[]),
        1,
        &["[2, 2, 11]", "1-D or 2-D"],
    );
}

#[test]
fn malformed_csv_files_name_the_line() {
    let dir = Scratch::new("badcsv");
    let (x, y) = (dir.path("x.csv"), dir.path("y.csv"));
    let row = ["0.5"; 11].join(",");
    std::fs::write(&x, format!("{row}\n{row}\n0.5,oops{}\n", ",0.5".repeat(9))).unwrap();
    assert_refused(
        &predict("fraud_default", &x, &y, &[]),
        1,
        &["x.csv", "line 3, column 1", "'oops' is not a number"],
    );
    std::fs::write(&x, format!("{row}\n{row},0.5\n")).unwrap();
    assert_refused(
        &predict("fraud_default", &x, &y, &[]),
        1,
        &["line 2", "12 fields, expected 11"],
    );
    std::fs::write(&x, "1,2,3,4,5,6,7,8,9,10\n1,2,3,4,5,6,7,8,9,10.5\n").unwrap();
    assert_refused(
        &predict("deepfm_default", &x, &y, &[]),
        1,
        &["line 2, column 9", "'10.5' is not an integer id"],
    );
    std::fs::write(&x, b"0.5,\xff\xfe\n").unwrap();
    assert_refused(
        &predict("fraud_default", &x, &y, &[]),
        1,
        &["x.csv", "line 1"],
    );
    assert!(!y.exists(), "no output on failure");
}

#[test]
fn unknown_extensions_missing_files_and_misplaced_flags_are_refused() {
    let dir = Scratch::new("usage");
    let (x, y) = (dir.path("x.npy"), dir.path("y.npy"));
    write_npy(&x, &[1, 11], &[0.5f32; 11], npyz::Order::C);
    assert_refused(
        &predict("fraud_default", &dir.path("x.txt"), &y, &[]),
        1,
        &["x.txt", "unknown input format", ".npy or .csv"],
    );
    assert_refused(
        &predict("fraud_default", &x, &dir.path("y.parquet"), &[]),
        1,
        &["y.parquet", "unknown output format"],
    );
    assert_refused(
        &predict("fraud_default", &dir.path("absent.npy"), &y, &[]),
        2,
        &["absent.npy"],
    );
    assert_refused(
        &predict("fraud_default", &x, &y, &["--tower", "item"]),
        2,
        &["--tower", "fraud"],
    );
    assert_refused(
        &predict("fraud_default", &x, &y, &["--oov-fallback-row", "0"]),
        2,
        &["--oov-fallback-row"],
    );
    assert_refused(
        &predict("fraud_default", &x, &y, &["--batch", "0"]),
        2,
        &["--batch"],
    );
    assert_refused(
        &predict("fraud_default", &x, &x, &[]),
        2,
        &["overwrite the input"],
    );
    assert!(x.exists(), "the input survives");
    assert_ok(&predict("fraud_default", &x, &y, &[]));
}
