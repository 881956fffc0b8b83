//! Tokenizer throughput on a large synthetic plugin.txt, and the whole COSMOS front end
//! (install + lint) on the corpus, in-process. `benches/run` adds the cold-process
//! figures and writes the report.

#![allow(clippy::disallowed_methods)] // a benchmark reads files and the clock

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth::compile::cosmos::install::{InstallOptions, install};
use berth::lint::lint_plugin;
use berth::parse::plugin_txt::tokenize;
use berth::source::SourceFile;

/// A realistic mix of the corpus's line shapes, repeated to `size` bytes.
fn synthetic(size: usize) -> String {
    let block = r#"# Telemetry decoder for the demo target
VARIABLE inst_target_name INST
  VARIABLE_DESCRIPTION "Name of the instrument target"
TARGET INST INST
  LOG_RETAIN_TIME 360000 # 10 hrs
INTERFACE INST_INT simulated_target_interface.rb sim_inst.rb
  MAP_TARGET INST
  PROTOCOL READ_WRITE LengthProtocol 32 16 7 1 BIG_ENDIAN 0 0xDEADBEEF None True
  OPTION PERIODIC_CMD DONT_LOG 1.0 "INST ABORT"
MICROSERVICE EXAMPLE openc3-example
  WORK_DIR .
  ENV GREETING "hello from the example"
  CMD ruby example_target.rb 'quoted arg' &
    --verbose
  PORT 7272 TCP

"#;
    block.repeat(size / block.len() + 1)
}

/// Best of `runs` timings of `f`.
fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let text = synthetic(50 * 1024 * 1024);
    let t = best(5, || tokenize(&text));
    let mb = text.len() as f64 / (1024.0 * 1024.0);
    println!(
        "tokenizer: {mb:.1} MiB in {:.1} ms = {:.0} MiB/s",
        t.as_secs_f64() * 1e3,
        mb / t.as_secs_f64()
    );

    let shared = std::env::var_os("BERTH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let Ok(entries) = std::fs::read_dir(shared.join("corpus/cosmos")) else {
        println!(
            "front end on the corpus: skipped, no corpus at {}",
            shared.display()
        );
        return;
    };
    let files: Vec<_> = entries
        .flatten()
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap();
            SourceFile::from_bytes(e.file_name().to_string_lossy(), &bytes).0
        })
        .collect();
    let bytes: usize = files.iter().map(|f| f.text().len()).sum();
    let options = InstallOptions::default();
    let t = best(20, || {
        files
            .iter()
            .map(|f| {
                let (plugin, problems) = install(f, &options);
                problems.len() + lint_plugin(&plugin, None).len()
            })
            .sum::<usize>()
    });
    println!(
        "front end (install + lint), {} corpus files, {} KiB: {:.2} ms in-process",
        files.len(),
        bytes / 1024,
        t.as_secs_f64() * 1e3
    );
}
