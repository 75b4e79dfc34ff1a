//! Our default `CONFIG GET *` must equal the snapshot recorded from the
//! reference server, apart from values that depend on how the reference
//! was started.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use redis_config::Config;
use std::collections::BTreeMap;

#[test]
fn defaults_match_reference_snapshot() {
    let reference: BTreeMap<String, String> = include_str!("reference_defaults.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('\t').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let cfg = Config::default();
    let ours: BTreeMap<String, String> = cfg.get(&[b"*"]).into_iter().collect();
    assert_eq!(ours.len(), cfg.get(&[b"*"]).len(), "names reported twice");
    let ref_names: Vec<_> = reference.keys().collect();
    let our_names: Vec<_> = ours.keys().collect();
    assert_eq!(our_names, ref_names);
    for (name, want) in &reference {
        let got = &ours[name];
        match name.as_str() {
            // The reference was started with --port/--bind to stay off
            // 6379 and the public interfaces; the real defaults are these.
            "port" => assert_eq!(got, "6379"),
            "bind" => assert_eq!(got, "* -::*"),
            // The working directory of whoever runs the server.
            "dir" => assert_eq!(got, &std::env::current_dir().unwrap().to_string_lossy()),
            _ => assert_eq!(got, want, "default of {name}"),
        }
    }
}
