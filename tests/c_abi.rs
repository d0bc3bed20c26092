//! The C ABI from real C and C++ programs, built with the system `cc`/`c++` (or `$CC`/`$CXX`):
//! every `examples/c/*.c` and `examples/cpp/*.cpp` linked against both libreckon.so and
//! libreckon.a and run on the demo weights; the C tests in `tests/c/` built with
//! `-fsanitize=address,undefined` and run clean (LeakSanitizer on); the README's example and
//! link lines; the pkg-config file from an installed prefix.
//!
//! Which libraries: the lib's `crate-type` includes `cdylib` and `staticlib`, so the same
//! rustc invocation that makes the rlib this test links also writes `libreckon.so` and
//! `libreckon.a` beside it in `target/<profile>/deps/` (cargo names them without a hash).
//! This binary lives in that folder, so `current_exe()` finds the libraries of this very
//! build; no nested cargo call (which would wait forever on the build lock this `cargo test`
//! holds) and no second build.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reckon::models::Tower;
use reckon::{Model, Options, Workspace};

/// System libraries a static link of libreckon.a needs (`rustc --print native-static-libs`);
/// the README and `include/reckon.pc` list the same, which `link_lines_agree` checks.
const STATIC_LIBS: &[&str] = &["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl"];
/// Warnings are errors: the examples are meant to be copied into services built that way.
const C_FLAGS: &[&str] = &["-std=c11", "-Wall", "-Wextra", "-Werror"];
const CXX_FLAGS: &[&str] = &["-std=c++17", "-Wall", "-Wextra", "-Werror"];
const SANITIZE: &[&str] = &[
    "-g",
    "-fsanitize=address,undefined",
    "-fno-omit-frame-pointer",
];
/// What the sanitizers print when they find something (the exit status is checked too).
const SANITIZER_REPORTS: &[&str] = &[
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn demo() -> PathBuf {
    repo().join("weights/demo")
}

/// The folder holding this build's libreckon.so and libreckon.a (see the module docs).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of this test binary");
    let dir = exe.parent().expect("test binary's folder").to_path_buf();
    for lib in ["libreckon.so", "libreckon.a"] {
        assert!(
            dir.join(lib).is_file(),
            "{} is missing: cargo builds it beside this test binary only while Cargo.toml's \
             [lib] crate-type lists cdylib and staticlib",
            dir.join(lib).display()
        );
    }
    dir
}

/// A scratch folder for one test, unique to this process (several `cargo test` runs may share
/// the target folder). Removed when the test passes (static executables are tens of MB each),
/// kept when it fails so the programs can be rerun by hand.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("c_abi")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch folder");
        Scratch(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {} for inspection", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Lang {
    C,
    Cxx,
}

#[derive(Clone, Copy, Debug)]
enum Link {
    Shared,
    Static,
}

/// The compiler driver for `lang`: `$CC`/`$CXX` if set, else the system `cc`/`c++`.
fn compiler(lang: Lang) -> String {
    let (var, default) = match lang {
        Lang::C => ("CC", "cc"),
        Lang::Cxx => ("CXX", "c++"),
    };
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

/// The documented link line: the shared library through `-L -l` plus an rpath so the program
/// runs in place, or the archive by path plus the system libraries it needs.
fn link_args(link: Link) -> Vec<String> {
    let dir = lib_dir();
    match link {
        Link::Shared => vec![
            format!("-L{}", dir.display()),
            "-lreckon".into(),
            format!("-Wl,-rpath,{}", dir.display()),
        ],
        Link::Static => std::iter::once(dir.join("libreckon.a").display().to_string())
            .chain(STATIC_LIBS.iter().map(|s| s.to_string()))
            .collect(),
    }
}

/// Runs a command and returns its output, panicking with everything it printed on failure.
/// `LD_LIBRARY_PATH` is removed: cargo sets it for tests (with `target/<profile>` in it, where
/// a plain `cargo build` leaves its own, possibly older, libreckon.so), and it would win over
/// the programs' rpath, which is what the documented link line relies on.
fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{cmd:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    out
}

/// Compiles and links one source file into `exe`.
fn build(lang: Lang, src: &Path, exe: &Path, link: Link, extra: &[&str]) {
    let flags = match lang {
        Lang::C => C_FLAGS,
        Lang::Cxx => CXX_FLAGS,
    };
    let mut cmd = Command::new(compiler(lang));
    cmd.args(flags)
        .args(extra)
        .arg("-I")
        .arg(repo().join("include"))
        .arg(src)
        .args(link_args(link))
        .arg("-o")
        .arg(exe);
    run_ok(&mut cmd, &format!("compiling {}", src.display()));
}

/// Runs a sanitizer build: any report, or a non-zero exit, fails the test.
fn run_sanitized(exe: &Path, args: &[&Path]) -> String {
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .current_dir(repo())
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
    let out = run_ok(&mut cmd, &exe.display().to_string());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for report in SANITIZER_REPORTS {
        assert!(
            !stderr.contains(report),
            "{} reported:\n{stderr}",
            exe.display()
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The source files with extension `ext` in `dir`, sorted.
fn sources(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .unwrap_or_else(|e| panic!("listing {dir}: {e}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no *.{ext} in {dir}");
    found
}

/// Builds every example of `lang` with `link` and runs it on the demo weights (under the
/// sanitizers when linked against the shared library).
fn examples(lang: Lang, link: Link) {
    let (dir, ext) = match lang {
        Lang::C => ("examples/c", "c"),
        Lang::Cxx => ("examples/cpp", "cpp"),
    };
    let out_dir = Scratch::new(&format!("examples_{ext}_{link:?}"));
    for src in sources(dir, ext) {
        let name = src
            .file_stem()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let exe = out_dir.join(&name);
        // Against the shared library the examples also run under the sanitizers: each is a C
        // or C++ program written only from the header, exactly what the API promises to.
        let stdout = match link {
            Link::Shared => {
                build(lang, &src, &exe, link, SANITIZE);
                run_sanitized(&exe, &[&demo()])
            }
            Link::Static => {
                build(lang, &src, &exe, link, &[]);
                let what = format!("{dir}/{name} ({link:?})");
                let out = run_ok(Command::new(&exe).arg(demo()).current_dir(repo()), &what);
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
        };
        println!("{dir}/{name} ({link:?}):\n{stdout}");
    }
}

#[test]
fn c_examples_run_against_the_shared_library() {
    examples(Lang::C, Link::Shared);
}

#[test]
fn c_examples_run_against_the_static_library() {
    examples(Lang::C, Link::Static);
}

#[test]
fn cpp_examples_run_against_the_shared_library() {
    examples(Lang::Cxx, Link::Shared);
}

#[test]
fn cpp_examples_run_against_the_static_library() {
    examples(Lang::Cxx, Link::Static);
}

/// Rows in contract.c's output files.
const ROWS: usize = 37;

/// contract.c's `feature(i)`: integer arithmetic, then one exact float division, so C and
/// Rust produce the same bits.
fn feature(i: usize) -> f32 {
    ((i * 7919) % 1000) as f32 / 250.0 - 2.0
}

/// What the Rust API gives for each output file contract.c writes.
fn rust_outputs() -> Vec<(&'static str, Vec<f32>)> {
    let open = |name: &str| {
        Model::open(
            demo().join(format!("{name}.safetensors")),
            &Options::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let mut ws = Workspace::default();
    let mut files = Vec::new();
    for name in ["ranker", "ltr", "fraud"] {
        let model = open(name);
        let (cols, out_cols) = model.dims();
        let x: Vec<f32> = (0..ROWS * cols).map(feature).collect();
        let mut out = vec![0.0; ROWS * out_cols];
        model.predict(&x, ROWS, &mut out, &mut ws).expect(name);
        files.push((name, out));
    }
    let deepfm = open("deepfm");
    let ids: Vec<i64> = (0..ROWS * 10).map(|j| ((j * 31 + 7) % 24) as i64).collect();
    let mut out = vec![0.0; ROWS];
    deepfm
        .predict_ids(&ids, ROWS, &mut out, &mut ws)
        .expect("deepfm");
    files.push(("deepfm", out));

    let towers = open("two_tower");
    let Model::TwoTower(t) = &towers else {
        panic!("two_tower.safetensors is not a two-tower model")
    };
    let users: Vec<i64> = (0..ROWS).map(|j| ((j * 131) % 2000) as i64).collect();
    let mut out = vec![0.0; ROWS * t.dim()];
    towers
        .predict_ids(&users, ROWS, &mut out, &mut ws)
        .expect("user tower");
    files.push(("two_tower_user", out));
    let items: Vec<i64> = (0..ROWS).map(|j| ((j * 977) % 10000) as i64).collect();
    let mut out = vec![0.0; ROWS * t.dim()];
    t.embed(Tower::Item, &items, &mut out, &mut ws.two_tower)
        .expect("item tower");
    files.push(("two_tower_item", out));
    files
}

/// Runs tests/c/contract.c under the sanitizers against `link` and checks its outputs are the
/// Rust API's, bit for bit.
fn contract(link: Link) {
    let dir = Scratch::new(&format!("contract_{link:?}"));
    let exe = dir.join("contract");
    build(
        Lang::C,
        &repo().join("tests/c/contract.c"),
        &exe,
        link,
        SANITIZE,
    );
    let stdout = run_sanitized(&exe, &[&demo(), &dir]);
    assert!(stdout.contains("all checks passed"), "{stdout}");
    for (name, want) in rust_outputs() {
        let path = dir.join(format!("{name}.f32"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let got: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(got.len(), want.len(), "{name}: output length");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.to_bits(), w.to_bits(), "{name}[{i}]: C {g} vs Rust {w}");
        }
    }
}

#[test]
fn contract_holds_under_sanitizers_with_the_static_library() {
    contract(Link::Static);
}

#[test]
fn contract_holds_under_sanitizers_with_the_shared_library() {
    contract(Link::Shared);
}

#[test]
fn threads_share_handles_under_sanitizers() {
    let dir = Scratch::new("threads");
    let exe = dir.join("threads");
    let mut extra = SANITIZE.to_vec();
    extra.push("-pthread");
    build(
        Lang::C,
        &repo().join("tests/c/threads.c"),
        &exe,
        Link::Static,
        &extra,
    );
    let stdout = run_sanitized(&exe, &[&demo()]);
    println!("{stdout}");
}

/// Every `void reckon_*_free(...)` the header declares.
fn free_functions() -> Vec<String> {
    let header = std::fs::read_to_string(repo().join("include/reckon.h")).expect("read header");
    header
        .lines()
        .filter_map(|l| l.strip_prefix("void "))
        .filter_map(|l| l.split_once('('))
        .map(|(name, _)| name.trim().to_string())
        .filter(|name| name.starts_with("reckon_") && name.ends_with("_free"))
        .collect()
}

#[test]
fn every_free_function_accepts_null() {
    let frees = free_functions();
    for known in ["reckon_model_free", "reckon_options_free"] {
        assert!(
            frees.iter().any(|f| f == known),
            "{known} not found in {frees:?}"
        );
    }
    let dir = Scratch::new("free_null");
    let src = dir.join("free_null.c");
    let calls: String = frees.iter().map(|f| format!("  {f}(NULL);\n")).collect();
    std::fs::write(
        &src,
        format!("#include <stddef.h>\n#include \"reckon.h\"\nint main(void) {{\n{calls}  return 0;\n}}\n"),
    )
    .expect("write free_null.c");
    let exe = dir.join("free_null");
    build(Lang::C, &src, &exe, Link::Static, SANITIZE);
    run_sanitized(&exe, &[]);
}

/// The C block of the README's "Using reckon from C/C++" section.
fn readme_example() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("read README");
    let (_, section) = readme
        .split_once("## Using reckon from C/C++")
        .expect("README has a 'Using reckon from C/C++' section");
    let (_, block) = section
        .split_once("```c\n")
        .expect("the section has a ```c block");
    let (code, _) = block.split_once("```").expect("the ```c block is closed");
    code.to_string()
}

#[test]
fn readme_example_builds_and_runs() {
    let dir = Scratch::new("readme");
    let src = dir.join("example.c");
    let code = readme_example();
    let lines = code.lines().count();
    assert!(
        lines <= 30,
        "the README example has {lines} lines; keep it short"
    );
    std::fs::write(&src, code).expect("write example.c");
    for link in [Link::Shared, Link::Static] {
        let exe = dir.join(format!("example_{link:?}"));
        build(Lang::C, &src, &exe, link, &[]);
        let out = run_ok(
            Command::new(&exe)
                .arg("weights/demo/ranker.safetensors")
                .current_dir(repo()),
            "README example",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("p_click"), "{stdout}");
    }
}

#[test]
fn link_lines_agree() {
    let libs = STATIC_LIBS.join(" ");
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("read README");
    assert!(
        readme.contains(&libs),
        "README's static link line should list `{libs}`"
    );
    let pc = std::fs::read_to_string(repo().join("include/reckon.pc")).expect("read reckon.pc");
    assert!(
        pc.lines().any(|l| l == format!("Libs.private: {libs}")),
        "reckon.pc's Libs.private should be `{libs}`"
    );
    assert!(
        pc.lines()
            .any(|l| l == format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "reckon.pc's Version should be Cargo.toml's {}",
        env!("CARGO_PKG_VERSION")
    );
}

/// Installs the header, `libs` and reckon.pc into `prefix` as the README shows.
fn install(prefix: &Path, libs: &[&str]) {
    let copy = |from: PathBuf, to: PathBuf| {
        std::fs::create_dir_all(to.parent().expect("parent")).expect("create folder");
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    };
    copy(
        repo().join("include/reckon.h"),
        prefix.join("include/reckon.h"),
    );
    copy(
        repo().join("include/reckon.pc"),
        prefix.join("lib/pkgconfig/reckon.pc"),
    );
    for lib in libs {
        copy(lib_dir().join(lib), prefix.join("lib").join(lib));
    }
}

/// `pkg-config ARGS reckon` against `prefix`, split into arguments.
fn pkg_config(prefix: &Path, args: &[&str]) -> Vec<String> {
    let out = run_ok(
        Command::new("pkg-config")
            .args(args)
            .arg("reckon")
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")),
        "pkg-config (install it: apt-get install pkg-config)",
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn pkg_config_links_an_installed_prefix_shared_and_static() {
    let dir = Scratch::new("pkg_config");
    let src = repo().join("examples/c/model.c");
    // Shared: `-lreckon` finds libreckon.so; the rpath lets it run without LD_LIBRARY_PATH.
    let shared = dir.join("shared");
    install(&shared, &["libreckon.so", "libreckon.a"]);
    let flags = pkg_config(&shared, &["--cflags", "--libs"]);
    assert!(flags.iter().any(|f| f == "-lreckon"), "{flags:?}");
    // A static-only prefix: `--static` adds Libs.private, the system libraries the archive needs.
    let stat = dir.join("static");
    install(&stat, &["libreckon.a"]);
    let static_flags = pkg_config(&stat, &["--static", "--cflags", "--libs"]);
    for (name, flags, rpath) in [
        ("shared", flags, Some(shared.join("lib"))),
        ("static", static_flags, None),
    ] {
        let exe = dir.join(format!("model_{name}"));
        let mut cmd = Command::new(compiler(Lang::C));
        cmd.args(C_FLAGS).arg(&src).args(&flags).arg("-o").arg(&exe);
        if let Some(rpath) = rpath {
            cmd.arg(format!("-Wl,-rpath,{}", rpath.display()));
        }
        run_ok(&mut cmd, &format!("building against the {name} prefix"));
        run_ok(
            Command::new(&exe).arg(demo()),
            &format!("model ({name} prefix)"),
        );
    }
}
