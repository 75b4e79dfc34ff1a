//! The state-changing `SENTINEL` subcommands as the daemon runs them:
//! [`crate::admin::run_subcommand`] on the daemon's state, plus what only
//! the daemon can do (logging a user-requested failover).

use redis_common::logger;

use crate::reply::Reply;
use crate::state::Action;

use super::core::Core;

/// Runs a valid call of a state-changing subcommand.
pub fn run_subcommand(core: &mut Core, argv: &[&str], now: u64) -> (Reply, Vec<Action>) {
    let (reply, actions) = crate::admin::run_subcommand(&mut core.s, &mut core.cfg, argv, now);
    let failover = argv
        .first()
        .is_some_and(|s| s.eq_ignore_ascii_case("failover"));
    if failover && matches!(reply, Reply::Status(_)) {
        let name = argv.get(1).copied().unwrap_or_default();
        logger::warning(&format!("Executing user requested FAILOVER of '{name}'"));
        if !core.manual_failovers.iter().any(|m| m == name) {
            core.manual_failovers.push(name.to_string());
        }
    }
    (reply, actions)
}

/// `sentinel_simulate_failure_flags` (the state machine's own flags are
/// ORed in by the INFO builder).
pub fn simulate_failure_flags(_core: &Core) -> u64 {
    0
}
