//! The cost of the dispatcher's ACL check per command, in process:
//! `cargo bench -p redis-engine --bench acl_check`. Prints nanoseconds per
//! check for a user limited to a key prefix and for a `~*` user, on the
//! `SET`/`GET` of redis-benchmark's default test. A figure, not a test:
//! the throughput comparison is `cargo xtask bench access`.

use std::time::Instant;

use bytes::Bytes;
use redis_acl::{PubsubDefault, User};
use redis_engine::acl::{check_user, EngineCatalog};
use redis_engine::{CmdResult, Ctx, Handler, Registry};

fn nop(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(())
}

fn main() -> Result<(), String> {
    let bindings: &[(&str, Handler)] = &[("set", nop), ("get", nop)];
    let reg = Registry::build(&[bindings]).map_err(|e| format!("{e:?}"))?;
    let catalog = EngineCatalog::new(&reg);
    let users: [&[&str]; 2] = [
        &["on", "nopass", "~key:*", "&*", "+@all"],
        &["on", "nopass", "~*", "&*", "+@all"],
    ];
    for rules in users {
        let mut user = User::new(b"app", PubsubDefault::ResetChannels);
        for r in rules {
            user.apply_rule(r.as_bytes(), &catalog, PubsubDefault::ResetChannels)
                .map_err(|e| format!("{r}: {e:?}"))?;
        }
        for words in [
            &["set", "key:000000012345", "xxx"][..],
            &["get", "key:000000012345"][..],
        ] {
            let argv: Vec<Bytes> = words
                .iter()
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect();
            let cmd = reg
                .resolve(&argv)
                .map_err(|_| format!("{} unknown", words[0]))?;
            let n = 5_000_000u32;
            let mut best = f64::MAX;
            // The best of five runs: the least disturbed by other load.
            for _ in 0..5 {
                let t = Instant::now();
                let mut ok = 0u32;
                for _ in 0..n {
                    let r = check_user(
                        std::hint::black_box(&user),
                        cmd,
                        std::hint::black_box(&argv),
                    );
                    ok += u32::from(r.is_ok());
                }
                if ok != n {
                    return Err(format!("{words:?} refused for {rules:?}"));
                }
                best = best.min(t.elapsed().as_nanos() as f64 / f64::from(n));
            }
            println!(
                "{:<40} {:<4} {best:>6.1} ns per check",
                rules.join(" "),
                words[0]
            );
        }
    }
    Ok(())
}
