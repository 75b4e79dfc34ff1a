//! systemd readiness notification: the suite's `sd_notify`
//! ([`redis_net::process::notify`]).

pub use redis_net::process::notify;
