//! `oom-score-adj` and `oom-score-adj-values`: the Linux OOM killer's
//! preference for this process (`/proc/self/oom_score_adj`), by role, so
//! that under memory pressure a replica goes before its primary.
//!
//! As upstream: the value the process started with is the base; `yes` or
//! `relative` add the role's value to it, `absolute` uses the role's value
//! as is, and `no` puts the base back if we ever changed it. Roles are
//! primary and replica (the third value, for background children, has no
//! use here: saves run in this process). The file is written only when the
//! wanted value changes (the cron checks, so a role change is followed
//! within one tick).

use crate::state::State;

const PROC_FILE: &str = "/proc/self/oom_score_adj";

/// What we know about the process's OOM score adjustment.
#[derive(Clone, Copy, Debug, Default)]
pub struct OomScore {
    /// The value at the first look (the base), once read.
    base: Option<i64>,
    /// The value we last wrote, if any.
    written: Option<i64>,
}

/// The value wanted for `setting` and `values` (primary, replica, child),
/// `None` to leave the process alone.
pub fn wanted(setting: &str, values: [i64; 3], is_replica: bool, base: i64) -> Option<i64> {
    let v = values[usize::from(is_replica)];
    let target = match setting {
        "yes" | "relative" => base + v,
        "absolute" => v,
        _ => return None,
    };
    Some(target.clamp(-1000, 1000))
}

impl State {
    /// Applies `oom-score-adj` for the current role (from the cron and
    /// after `CONFIG SET`).
    pub fn apply_oom_score_adj(&mut self) {
        let setting = self.config.get_enum("oom-score-adj").to_string();
        if setting == "no" && self.oom.written.is_none() {
            return;
        }
        let base = match self.oom.base {
            Some(b) => b,
            None => {
                let Some(b) = read_score() else { return };
                self.oom.base = Some(b);
                b
            }
        };
        let values = self.config.oom_score_adj_values();
        let target = wanted(&setting, values, self.master.is_some(), base);
        let value = match target {
            Some(v) => v,
            // Back to the base, once.
            None => base,
        };
        if self.oom.written == Some(value) {
            if target.is_none() {
                self.oom.written = None;
                self.oom.base = None;
            }
            return;
        }
        match std::fs::write(PROC_FILE, value.to_string()) {
            Ok(()) => {
                self.oom.written = target.map(|_| value);
                if target.is_none() {
                    // Control handed back: the next enabling reads the
                    // base again (someone may have changed it meanwhile),
                    // as upstream does.
                    self.oom.base = None;
                }
            }
            Err(e) => {
                self.log_warning(&format!("Unable to write oom_score_adj: {e}"));
                // Do not retry every tick.
                self.oom.written = Some(value);
            }
        }
    }
}

fn read_score() -> Option<i64> {
    std::fs::read_to_string(PROC_FILE).ok()?.trim().parse().ok()
}

#[cfg(test)]
#[path = "oom_tests.rs"]
mod tests;
