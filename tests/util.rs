//! Repository paths for the test modules. Required tools, bounded runs
//! and process guards are the testkit's (`redis_testkit::process`).

use std::path::{Path, PathBuf};

/// The workspace root (parent of this package's directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Directory holding the differential scripts.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

/// The HAProxy configuration of the guides (seed 002): TCP mode, one
/// frontend on `front`, a backend whose tcp-check sends `AUTH pass`,
/// `PING`, `info replication`, expects `role:master` and quits, so only
/// the current primary receives traffic. `servers` are (name, port) on
/// 127.0.0.1, checked every `inter_ms`.
pub fn haproxy_guide_config(
    front: u16,
    pass: &str,
    servers: &[(&str, u16)],
    inter_ms: u32,
) -> String {
    let mut cfg = format!(
        "global\n  maxconn 64\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 20s\n  timeout server 20s\n\
         frontend redis\n  bind 127.0.0.1:{front}\n  default_backend redis\n\
         backend redis\n  option tcp-check\n  tcp-check connect\n  tcp-check send AUTH\\ {pass}\\r\\n\n  tcp-check expect string +OK\n\
         \x20 tcp-check send PING\\r\\n\n  tcp-check expect string +PONG\n  tcp-check send info\\ replication\\r\\n\n\
         \x20 tcp-check expect string role:master\n  tcp-check send QUIT\\r\\n\n  tcp-check expect string +OK\n"
    );
    for (name, port) in servers {
        cfg.push_str(&format!(
            "  server {name} 127.0.0.1:{port} check inter {inter_ms}ms fall 1 rise 1\n"
        ));
    }
    cfg
}
