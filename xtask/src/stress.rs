//! `cargo xtask stress [SECS] [--seed N]`: the randomized replication
//! stress test (`tests/replication_stress.rs`) for minutes instead of the
//! seconds CI gives it. Replicas of both kinds join, lose their link,
//! restart and leave under a mixed write load; every round compares their
//! `DEBUG DIGEST` with the primary's. A failure prints the seed to replay.

use std::process::Command;

/// Runs both stress tests for `SECS` seconds each (default 300).
pub fn run(args: &[String]) -> Result<(), String> {
    let mut secs: u64 = 300;
    let mut seed: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => {
                seed = Some(it.next().ok_or("--seed needs a value")?.clone());
            }
            s => {
                secs = s
                    .parse()
                    .map_err(|_| format!("not a number of seconds: {s}"))?
            }
        }
    }
    let root = crate::repo_root();
    let cargo = crate::cargo();
    crate::build_bins()?;
    let mut test = Command::new(&cargo);
    test.args([
        "test",
        "-p",
        "redis-tests",
        "--test",
        "integration",
        "replication_stress::",
        "--",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env("REDIS_STRESS_SECS", secs.to_string())
    .current_dir(&root);
    if let Some(s) = seed {
        test.env("REDIS_STRESS_SEED", s);
    }
    let status = test.status().map_err(|e| format!("cargo test: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("replication stress failed (the seed is printed above)".into())
    }
}
