//! `fusewb-bench`: benchmarks of fuse-wb, run inside the test VM as root
//! (`make bench` starts them with scripts/vm-run).
//!
//! ```text
//! fusewb-bench seed  [--out FILE]   part 1: cp and dd on fuse-wb, mainline FUSE and the raw back end (FILE and FILE.tsv)
//! fusewb-bench dirty [--out FILE]   part 2: dirty memory during a large copy into a write-back mount
//! fusewb-bench work  [--out FILE]   part 3: four writers, reads, small files (FILE and FILE.tsv)
//! ```
//!
//! A benchmark measures and prints; it fails only when an operation fails
//! or data is wrong, never because of speed. Sizes and subsets come from
//! environment variables (see [`config::ENV_HELP`]).

mod config;
mod dirty;
mod matrix;
mod report;
mod seed;
mod serve;
mod stats;
mod summary;
mod sys;
mod work;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: fusewb-bench seed  [--out FILE]
       fusewb-bench dirty [--out FILE]
       fusewb-bench work  [--out FILE]

Runs inside the fuse-wb test VM as root, with fuse_wb.ko loaded (make bench).

  seed    cp of a BENCH_CP_MB file and dd of BENCH_DD_MB at 4K, 128K and 1M
          blocks on fuse-wb write-through and write-back, mainline FUSE without
          and with write-back (all over fusewb-refserver, with every latency
          per WRITE of BENCH_LATENCIES; cp also with every BENCH_THREADS x
          BENCH_MAX_WRITES server, dd with the first of each), and on the raw
          back end, every case BENCH_REPS times; prints a table of medians with
          min-max and the goals of issue 12, and saves it (default
          $FUSEWB_ROOT/tests/out/bench-seed.txt) with every run in a TSV file
          next to it (bench-seed.tsv; tools/fusewb-bench/plot.py draws it)
  dirty   writes BENCH_BIG_MB into a fuse-wb write-back mount whose server keeps
          no data in guest RAM (BENCH_DIRTY_BACKEND: sink, the default, checks
          every WRITE against the data written and stores nothing; dir, a
          passthrough of a directory outside guest RAM), samples dirty memory
          every 0.5 s, probes the latency of a 4 KiB write and fsync on a tmpfs
          every 0.1 s, prints the maxima and checks the data (default
          $FUSEWB_ROOT/tests/out/bench-dirty.txt, samples in
          bench-dirty.samples.txt)
  work    on the configurations of seed (its first server setting, every
          latency of BENCH_WORK_LATENCIES) and the raw back end: four writers
          of BENCH_WORK_MB each at once with fsync; a BENCH_READ_MB file read
          cold, warm and with BENCH_RANDOM_READS random 4 KiB preads;
          BENCH_SMALL_FILES files of 4 KiB created in 100 directories, syncfs,
          rm -rf; every case BENCH_REPS times; prints a table of medians with
          min-max and saves it (default $FUSEWB_ROOT/tests/out/bench-work.txt)
          with every run in bench-work.tsv

The exit status is non-zero only if an operation fails or data is wrong.

";

#[derive(Debug, PartialEq, Eq)]
enum Cmd {
    Help,
    Seed(Option<PathBuf>),
    Dirty(Option<PathBuf>),
    Work(Option<PathBuf>),
}

fn parse_args(args: &[String]) -> Result<Cmd, String> {
    let mut it = args.iter();
    let which = match it.next().map(String::as_str) {
        None | Some("-h") | Some("--help") | Some("help") => return Ok(Cmd::Help),
        Some(w @ ("seed" | "dirty" | "work")) => w,
        Some(other) => return Err(format!("unknown command {other:?}")),
    };
    let mut out = None;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => out = Some(PathBuf::from(it.next().ok_or("--out needs a file name")?)),
            s if s.starts_with("--out=") => out = Some(PathBuf::from(&s["--out=".len()..])),
            "-h" | "--help" => return Ok(Cmd::Help),
            s => return Err(format!("unexpected argument {s:?}")),
        }
    }
    Ok(match which {
        "seed" => Cmd::Seed(out),
        "dirty" => Cmd::Dirty(out),
        _ => Cmd::Work(out),
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fusewb-bench: {e}\n\n{USAGE}{}", config::ENV_HELP);
            return ExitCode::from(2);
        }
    };
    if cmd == Cmd::Help {
        print!("{USAGE}{}", config::ENV_HELP);
        return ExitCode::SUCCESS;
    }
    let result = config::Settings::from_env().and_then(|s| {
        let env = sys::Env::detect()?;
        std::fs::create_dir_all(env.out_dir())
            .map_err(|e| format!("mkdir {}: {e}", env.out_dir().display()))?;
        match cmd {
            Cmd::Seed(out) => {
                let out = out.unwrap_or_else(|| env.out_dir().join("bench-seed.txt"));
                seed::run(&env, &s, &out)
            }
            Cmd::Dirty(out) => {
                let out = out.unwrap_or_else(|| env.out_dir().join("bench-dirty.txt"));
                dirty::run(&env, &s, &out)
            }
            Cmd::Work(out) => {
                let out = out.unwrap_or_else(|| env.out_dir().join("bench-work.txt"));
                work::run(&env, &s, &out)
            }
            Cmd::Help => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fusewb-bench: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Cmd, String> {
        parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn args() {
        assert_eq!(p(&[]), Ok(Cmd::Help));
        assert_eq!(p(&["seed"]), Ok(Cmd::Seed(None)));
        assert_eq!(
            p(&["dirty", "--out", "/x"]),
            Ok(Cmd::Dirty(Some("/x".into())))
        );
        assert_eq!(p(&["seed", "--out=/y"]), Ok(Cmd::Seed(Some("/y".into()))));
        assert_eq!(p(&["seed", "-h"]), Ok(Cmd::Help));
        assert!(p(&["seed", "--out"]).is_err());
        assert!(p(&["fast"]).is_err());
        assert!(p(&["dirty", "extra"]).is_err());
        assert_eq!(p(&["work"]), Ok(Cmd::Work(None)));
        assert_eq!(
            p(&["work", "--out", "/w.txt"]),
            Ok(Cmd::Work(Some("/w.txt".into())))
        );
        assert_eq!(p(&["work", "--help"]), Ok(Cmd::Help));
        assert!(p(&["work", "--out"]).is_err());
        assert!(p(&["works"]).is_err());
    }
}
