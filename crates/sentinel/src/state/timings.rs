//! The timing parameters of the state machine, changeable at runtime with
//! `SENTINEL DEBUG`: periods of the PING / INFO / hello / `is-master-down`
//! traffic, TILT detection, failover timeouts, and the ones only the
//! driver uses (link reconnection, scripts). All in milliseconds.

use super::{
    ASK_PERIOD, ELECTION_TIMEOUT, INFO_PERIOD, PING_PERIOD, PUBLISH_PERIOD, SLAVE_RECONF_TIMEOUT,
    TILT_PERIOD, TILT_TRIGGER,
};
use crate::config::{DEFAULT_DOWN_AFTER_MS, DEFAULT_FAILOVER_TIMEOUT_MS};

/// Default `min-link-reconnect-period`.
pub const MIN_LINK_RECONNECT_PERIOD: u64 = 15_000;
/// Default `script-max-runtime`.
pub const SCRIPT_MAX_RUNTIME: u64 = 60_000;
/// Default `script-retry-delay`.
pub const SCRIPT_RETRY_DELAY: u64 = 30_000;

/// The runtime timing parameters, with upstream's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// INFO period in normal conditions (`info-period`).
    pub info_period: u64,
    /// PING period, and the base of several timeouts (`ping-period`);
    /// also the pace of reconnection attempts.
    pub ping_period: u64,
    /// Period of `is-master-down-by-addr` questions (`ask-period`).
    pub ask_period: u64,
    /// Hello publish period (`publish-period`).
    pub publish_period: u64,
    /// `down-after-milliseconds` of masters added by `SENTINEL MONITOR`
    /// (`default-down-after`).
    pub default_down_after: u64,
    /// `failover-timeout` of masters added by `SENTINEL MONITOR`
    /// (`default-failover-timeout`).
    pub default_failover_timeout: u64,
    /// A gap between ticks larger than this enters TILT (`tilt-trigger`).
    pub tilt_trigger: u64,
    /// How long TILT lasts (`tilt-period`).
    pub tilt_period: u64,
    /// A replica told to follow the new master counts as done after this
    /// (`slave-reconf-timeout`).
    pub slave_reconf_timeout: u64,
    /// Driver only: a link connected for longer than this whose PINGs go
    /// unanswered (or whose Pub/Sub link is silent) is closed and
    /// reopened (`min-link-reconnect-period`).
    pub min_link_reconnect_period: u64,
    /// Longest wait to be elected leader (`election-timeout`).
    pub election_timeout: u64,
    /// Driver only: scripts running longer are killed
    /// (`script-max-runtime`).
    pub script_max_runtime: u64,
    /// Driver only: first delay before retrying a failed script, doubled
    /// at every further retry (`script-retry-delay`).
    pub script_retry_delay: u64,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            info_period: INFO_PERIOD,
            ping_period: PING_PERIOD,
            ask_period: ASK_PERIOD,
            publish_period: PUBLISH_PERIOD,
            default_down_after: DEFAULT_DOWN_AFTER_MS,
            default_failover_timeout: DEFAULT_FAILOVER_TIMEOUT_MS,
            tilt_trigger: TILT_TRIGGER,
            tilt_period: TILT_PERIOD,
            slave_reconf_timeout: SLAVE_RECONF_TIMEOUT,
            min_link_reconnect_period: MIN_LINK_RECONNECT_PERIOD,
            election_timeout: ELECTION_TIMEOUT,
            script_max_runtime: SCRIPT_MAX_RUNTIME,
            script_retry_delay: SCRIPT_RETRY_DELAY,
        }
    }
}

impl Timings {
    /// The parameters as `SENTINEL DEBUG` lists them: upper-case names in
    /// upstream's order, with their values.
    pub fn list(&self) -> [(&'static str, u64); 13] {
        [
            ("INFO-PERIOD", self.info_period),
            ("PING-PERIOD", self.ping_period),
            ("ASK-PERIOD", self.ask_period),
            ("PUBLISH-PERIOD", self.publish_period),
            ("DEFAULT-DOWN-AFTER", self.default_down_after),
            ("DEFAULT-FAILOVER-TIMEOUT", self.default_failover_timeout),
            ("TILT-TRIGGER", self.tilt_trigger),
            ("TILT-PERIOD", self.tilt_period),
            ("SLAVE-RECONF-TIMEOUT", self.slave_reconf_timeout),
            ("MIN-LINK-RECONNECT-PERIOD", self.min_link_reconnect_period),
            ("ELECTION-TIMEOUT", self.election_timeout),
            ("SCRIPT-MAX-RUNTIME", self.script_max_runtime),
            ("SCRIPT-RETRY-DELAY", self.script_retry_delay),
        ]
    }

    /// The field called `name` (case-insensitive, as listed by
    /// [`Timings::list`]), if any.
    pub fn field_mut(&mut self, name: &str) -> Option<&mut u64> {
        let n = name.to_ascii_lowercase();
        Some(match n.as_str() {
            "info-period" => &mut self.info_period,
            "ping-period" => &mut self.ping_period,
            "ask-period" => &mut self.ask_period,
            "publish-period" => &mut self.publish_period,
            "default-down-after" => &mut self.default_down_after,
            "default-failover-timeout" => &mut self.default_failover_timeout,
            "tilt-trigger" => &mut self.tilt_trigger,
            "tilt-period" => &mut self.tilt_period,
            "slave-reconf-timeout" => &mut self.slave_reconf_timeout,
            "min-link-reconnect-period" => &mut self.min_link_reconnect_period,
            "election-timeout" => &mut self.election_timeout,
            "script-max-runtime" => &mut self.script_max_runtime,
            "script-retry-delay" => &mut self.script_retry_delay,
            _ => return None,
        })
    }
}
