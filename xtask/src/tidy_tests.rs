//! Tests of `tidy.rs`.

use super::*;

#[test]
fn every_rust_file_has_a_doc_header() {
    let problems = missing_doc_headers(&crate::repo_root());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn workspace_respects_crate_layers() {
    let meta = cargo_metadata(&crate::repo_root()).expect("cargo metadata");
    let problems = layer_violations(&meta);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn separate_processes_link_no_engine() {
    let meta = cargo_metadata(&crate::repo_root()).expect("cargo metadata");
    let problems = process_split_violations(&meta);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn process_split_check_follows_indirect_edges() {
    let m = meta(
        r#"{"name": "redis-sentinel", "dependencies": [{"name": "redis-client", "kind": null},
                                                         {"name": "redis-storage", "kind": "dev"}]},
           {"name": "redis-client", "dependencies": [{"name": "redis-engine", "kind": null}]},
           {"name": "redis-cli", "dependencies": [{"name": "redis-resp", "kind": null}]}"#,
    );
    let p = process_split_violations(&m);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(
        p[0],
        "redis-sentinel -> redis-client -> redis-engine: a separate process may not link redis-engine"
    );
}

fn meta(pkgs: &str) -> Json {
    json::parse(&format!("{{\"packages\": [{pkgs}]}}")).unwrap()
}

#[test]
fn layer_check_flags_upward_and_sideways_edges() {
    let m = meta(
        r#"{"name": "redis-common", "dependencies": [{"name": "redis-server", "kind": null}]},
           {"name": "redis-storage", "dependencies": [{"name": "redis-config", "kind": null}]},
           {"name": "redis-resp", "dependencies": [{"name": "redis-common", "kind": null}]},
           {"name": "redis-server", "dependencies": [{"name": "redis-common", "kind": null},
                                                       {"name": "tokio", "kind": null},
                                                       {"name": "redis-testkit", "kind": "dev"}]},
           {"name": "redis-config", "dependencies": [{"name": "redis-testkit", "kind": null}]},
           {"name": "redis-testkit", "dependencies": [{"name": "redis-server", "kind": null}]},
           {"name": "mystery", "dependencies": []}"#,
    );
    let p = layer_violations(&m);
    assert_eq!(p.len(), 4, "{p:#?}");
    assert!(p[0].starts_with("redis-common (L0) -> redis-server (L4)"));
    assert!(p[1].starts_with("redis-storage (L1) -> redis-config (L1)"));
    assert!(p[2].starts_with("redis-config -> redis-testkit"));
    assert!(p[3].starts_with("mystery: not assigned"));
}
