//! `make bench`: the engine's throughput and per-policy latency on a corpus of real policies
//! (the AWS managed policies shipped with moto; see bench/extract-corpus.py), written in the
//! same JSON shape as bench/parliament-bench.py so bench/compare.py can set them side by side.
//!
//! The timed question per policy, as for parliament: from the policy's text, parse it and
//! decide which restricted actions it grants (the analysis counts every known action granted).
//!
//! Environment: BENCH_CORPUS (default target/bench/corpus.jsonl), BENCH_OUT (default
//! target/bench/engine.json), RESTRICTED_ACTIONS (required), BENCH_ROUNDS (default 20),
//! BENCH_SLOWEST_ANALYSIS (set: also print the ten policies whose analysis alone is slowest).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use policy_engine::analysis::granted_known_actions;
use policy_engine::{Catalog, Policy, RestrictedActions, analyse, decode};
use serde_json::{Value, json};

/// The CLI's allocator (src/main.rs), so the figures are the ones `iam-sentinel check` gets.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The goals (issue 14): a p99 under 50 us per policy, and at least twice the throughput
/// measured before the parser and the matching were reworked (59,633 policies/s, 2026-12-01;
/// docs/BENCHMARKS.md).
const GOAL_P99_US: f64 = 50.0;
const BASELINE_POLICIES_PER_SECOND: f64 = 59_633.0;

fn main() {
    let corpus_path = env_or("BENCH_CORPUS", "target/bench/corpus.jsonl");
    let out_path = env_or("BENCH_OUT", "target/bench/engine.json");
    let rounds: usize = env_or("BENCH_ROUNDS", "20")
        .parse()
        .expect("BENCH_ROUNDS is a number");
    let restricted = std::env::var("RESTRICTED_ACTIONS").expect("set RESTRICTED_ACTIONS");
    let catalog = Catalog::embedded();
    let restricted =
        RestrictedActions::parse(&restricted, catalog).expect("valid restricted actions");

    let corpus: Vec<(String, String)> = std::fs::read_to_string(&corpus_path)
        .unwrap_or_else(|e| panic!("{corpus_path}: {e} (run `make bench`, which extracts it)"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let entry: Value = serde_json::from_str(line).expect("corpus lines are JSON");
            (
                entry["name"].as_str().expect("a name").to_owned(),
                entry["document"].to_string(),
            )
        })
        .collect();

    // The verdicts, untimed: the full set of known restricted actions each policy grants.
    let mut verdicts = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for (name, text) in &corpus {
        match decode(text).and_then(|json| Policy::parse(&json).map(|p| p.into_owned())) {
            Ok(policy) => {
                let granted = granted_known_actions(&policy, &restricted, catalog);
                let granted: Vec<String> = granted.iter().map(|a| a.to_ascii_lowercase()).collect();
                verdicts.insert(name.clone(), granted);
            }
            Err(e) => {
                errors.insert(name.clone(), e.to_string());
            }
        }
    }

    let question = |text: &str| {
        let json = decode(text).ok()?;
        let policy = Policy::parse(&json).ok()?;
        Some(analyse(&policy, &restricted, catalog).findings.len())
    };
    for (_, text) in &corpus {
        black_box(question(black_box(text)));
    }
    let (seconds, samples_ns) = measure(&corpus, rounds, question);
    let percentile_us_of = percentile_us;
    let percentile_us = |p: usize| percentile_us_of(&samples_ns, p);
    // Parsing alone, to show how the time splits.
    let (parse_seconds, parse_ns) = measure(&corpus, rounds, |text| {
        decode(text)
            .ok()
            .and_then(|json| Policy::parse(&json).ok().map(|p| p.statements.len()))
    });
    let measured = corpus.len() * rounds;
    let corpus_bytes: usize = corpus.iter().map(|(_, text)| text.len()).sum();
    let parse_mb_per_second = (corpus_bytes * rounds) as f64 / parse_seconds / 1e6;
    let policies_per_second = measured as f64 / seconds;
    let report = json!({
        "tool": "iam-sentinel",
        "version": env!("CARGO_PKG_VERSION"),
        "restricted": restricted.patterns().collect::<Vec<_>>(),
        "policies": corpus.len(),
        "rounds": rounds,
        "seconds": seconds / rounds as f64,
        "policies_per_second": policies_per_second,
        "p50_us": percentile_us(50),
        "p99_us": percentile_us(99),
        "max_us": *samples_ns.last().unwrap_or(&0) as f64 / 1e3,
        "parse_p50_us": percentile_us_of(&parse_ns, 50),
        "parse_p99_us": percentile_us_of(&parse_ns, 99),
        "parse_mb_per_second": parse_mb_per_second,
        "goals": {
            "p99_us_below": GOAL_P99_US,
            "policies_per_second_at_least": 2.0 * BASELINE_POLICIES_PER_SECOND,
        },
        "verdicts": verdicts,
        "errors": errors,
    });
    println!("slowest: {}", slowest(&corpus, question).join(", "));
    if std::env::var_os("BENCH_SLOWEST_ANALYSIS").is_some() {
        let analysis_only = |text: &str| {
            let json = decode(text).ok()?;
            let policy = Policy::parse(&json).ok()?;
            let t = Instant::now();
            black_box(analyse(&policy, &restricted, catalog));
            Some(t.elapsed())
        };
        let mut timed: Vec<(std::time::Duration, &str)> = corpus
            .iter()
            .filter_map(|(name, text)| Some((analysis_only(text)?, name.as_str())))
            .collect();
        timed.sort_unstable_by_key(|t| std::cmp::Reverse(t.0));
        println!("analysis slowest: {:?}", &timed[..10]);
    }
    std::fs::write(
        &out_path,
        serde_json::to_string_pretty(&report).expect("JSON") + "\n",
    )
    .unwrap_or_else(|e| panic!("{out_path}: {e}"));
    println!(
        "iam-sentinel: {} policies ({:.1} MB) x {rounds} rounds: {policies_per_second:.0} \
         policies/s, p50 {:.2} us, p99 {:.2} us, max {:.0} us (parsing alone: p50 {:.2} us, \
         p99 {:.2} us, {parse_mb_per_second:.0} MB/s); {} grant a restricted action, {} invalid \
         -> {out_path}",
        corpus.len(),
        corpus_bytes as f64 / 1e6,
        report["p50_us"].as_f64().unwrap_or_default(),
        report["p99_us"].as_f64().unwrap_or_default(),
        report["max_us"].as_f64().unwrap_or_default(),
        report["parse_p50_us"].as_f64().unwrap_or_default(),
        report["parse_p99_us"].as_f64().unwrap_or_default(),
        verdicts.values().filter(|v| !v.is_empty()).count(),
        errors.len(),
    );
    let p99 = report["p99_us"].as_f64().unwrap_or(f64::INFINITY);
    let throughput_goal = 2.0 * BASELINE_POLICIES_PER_SECOND;
    println!(
        "goal p99 < {GOAL_P99_US:.0} us: {p99:.1} us, {}; goal >= {throughput_goal:.0} \
         policies/s (2x {BASELINE_POLICIES_PER_SECOND:.0}): {policies_per_second:.0}, {}",
        verdict(p99 < GOAL_P99_US),
        verdict(policies_per_second >= throughput_goal),
    );
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// Times `question` on every policy, `rounds` times: (seconds per round, sorted samples in ns).
fn measure<T>(
    corpus: &[(String, String)],
    rounds: usize,
    question: impl Fn(&str) -> T,
) -> (f64, Vec<u64>) {
    let mut samples_ns = Vec::with_capacity(corpus.len() * rounds);
    let started = Instant::now();
    for _ in 0..rounds {
        for (_, text) in corpus {
            let t = Instant::now();
            black_box(question(black_box(text)));
            samples_ns.push(t.elapsed().as_nanos() as u64);
        }
    }
    samples_ns.sort_unstable();
    (started.elapsed().as_secs_f64(), samples_ns)
}

/// Nearest-rank percentile of sorted samples, in microseconds.
fn percentile_us(sorted_ns: &[u64], p: usize) -> f64 {
    let rank = (sorted_ns.len() * p).div_ceil(100).max(1);
    sorted_ns[rank - 1] as f64 / 1e3
}

/// The five policies that take longest, each its fastest of five runs (a busy machine's
/// pauses are not the policy's), with their size: where the tail comes from.
fn slowest<T>(corpus: &[(String, String)], question: impl Fn(&str) -> T) -> Vec<String> {
    let mut timed: Vec<(u128, &str, usize)> = corpus
        .iter()
        .map(|(name, text)| {
            let fastest = (0..5)
                .map(|_| {
                    let t = Instant::now();
                    black_box(question(black_box(text)));
                    t.elapsed().as_nanos()
                })
                .min()
                .unwrap_or_default();
            (fastest, name.as_str(), text.len())
        })
        .collect();
    timed.sort_unstable_by_key(|t| std::cmp::Reverse(t.0));
    timed
        .iter()
        .take(5)
        .map(|(ns, name, len)| format!("{name} ({len} bytes) {:.0} us", *ns as f64 / 1e3))
        .collect()
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}
