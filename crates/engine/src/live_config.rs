//! `CONFIG SET` of the parameters that act on the process rather than on
//! values the engine reads when it needs them: the listening sockets
//! (`port`, `bind`), the working directory (`dir`) and the log level
//! (`loglevel`).
//!
//! Upstream changes the working directory while it sets the value and
//! rebinds the listeners afterwards (its "apply" step); when the rebind
//! fails, every parameter of the command goes back to its old value and
//! the old sockets keep serving. [`State::apply_live_config`] does the
//! same, leaving the restoring of the values to its caller; its
//! [`LiveConfigError`] is the reply.

use redis_common::os::strerror;
use redis_config::Config;

use crate::state::LogLevel;
use crate::State;

/// Why `CONFIG SET` could not apply a parameter to the process; the text
/// is the reply (the parameter is quoted as the client spelled it).
#[derive(Debug, thiserror::Error)]
pub enum LiveConfigError {
    /// `dir` cannot be entered.
    #[error("ERR CONFIG SET failed (possibly related to argument '{given}') - {}", strerror(.err))]
    Dir {
        given: String,
        #[source]
        err: std::io::Error,
    },
    /// The listeners cannot be rebound on the new `port` or `bind`.
    #[error("ERR CONFIG SET failed (possibly related to argument '{given}') - {}", .which.failure())]
    Listen { given: String, which: Listener },
}

/// Which parameter a rebind failure is blamed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    Port,
    Bind,
}

impl Listener {
    fn name(self) -> &'static str {
        match self {
            Listener::Port => "port",
            Listener::Bind => "bind",
        }
    }

    /// Upstream's reply text for a failed apply.
    fn failure(self) -> &'static str {
        match self {
            Listener::Port => "Unable to listen on this port. Check server logs.",
            Listener::Bind => "Failed to bind to specified addresses.",
        }
    }
}

/// The `loglevel` value as a [`LogLevel`].
pub fn log_level(name: &str) -> LogLevel {
    match name {
        "debug" => LogLevel::Debug,
        "verbose" => LogLevel::Verbose,
        "warning" => LogLevel::Warning,
        _ => LogLevel::Notice,
    }
}

impl State {
    /// Applies what a successful [`Config::set`] changed (`changed`:
    /// canonical names) to the process; `old` is the configuration before
    /// the command and `given` the parameter names as the client sent
    /// them, in order (error texts quote them). On error the process is as
    /// it was before the command, and the caller restores `old`.
    pub fn apply_live_config(
        &mut self,
        old: &Config,
        changed: &[&str],
        given: &[String],
    ) -> Result<(), LiveConfigError> {
        let as_sent = |canonical: &str| -> String {
            given
                .iter()
                .find(|g| {
                    redis_config::lookup(g).map(|i| redis_config::TABLE[i].name) == Some(canonical)
                })
                .cloned()
                .unwrap_or_else(|| canonical.to_string())
        };
        let dir_changed = changed.contains(&"dir");
        if dir_changed {
            let dir = self.config.get_str("dir").to_string();
            std::env::set_current_dir(&dir).map_err(|err| LiveConfigError::Dir {
                given: as_sent("dir"),
                err,
            })?;
        }
        // The listeners are rebound once for both parameters; a failure is
        // blamed on whichever of them came first in the command.
        let first_listener = given.iter().find_map(|g| {
            let name = redis_config::lookup(g).map(|i| redis_config::TABLE[i].name)?;
            match name {
                "port" if changed.contains(&"port") => Some(Listener::Port),
                "bind" if changed.contains(&"bind") => Some(Listener::Bind),
                _ => None,
            }
        });
        if let Some(which) = first_listener {
            if let Err(lines) = self.rebind_listeners(which) {
                for l in &lines {
                    self.log_warning(l);
                }
                self.log_warning(&format!(
                    "Failed applying new configuration. Possibly related to new {} setting. Restoring previous settings.",
                    which.name()
                ));
                if dir_changed {
                    // Back where the command found us; the old directory
                    // existed a moment ago.
                    let _ = std::env::set_current_dir(old.get_str("dir"));
                }
                return Err(LiveConfigError::Listen {
                    given: as_sent(which.name()),
                    which,
                });
            }
        }
        if changed.contains(&"loglevel") {
            (self.set_log_level)(log_level(self.config.get_enum("loglevel")));
        }
        Ok(())
    }

    /// Listens on `bind` × `port` instead of the running TCP sockets (the
    /// old ones keep serving on failure). The error is the log lines.
    fn rebind_listeners(&mut self, which: Listener) -> Result<(), Vec<String>> {
        let port = self.config.get_int("port").clamp(0, 65535) as u16;
        let Some(acceptors) = self.listeners.clone() else {
            // Nothing is listening (an engine without a network layer).
            self.port = port;
            return Ok(());
        };
        let backlog = i32::try_from(self.config.get_int("tcp-backlog")).unwrap_or(i32::MAX);
        match acceptors.rebind_tcp(&self.config.bind_addrs(), port, backlog) {
            Ok(()) => {
                self.port = port;
                Ok(())
            }
            Err(e) => {
                // The bind error's last line is the startup's fatal one
                // ("Failed listening on port …, aborting."), not logged for
                // a rebind, which upstream reports its own way.
                let mut lines: Vec<String> = e
                    .lines
                    .into_iter()
                    .filter(|l| !l.starts_with("Failed listening on port"))
                    .collect();
                if which == Listener::Bind {
                    lines.push("Failed to bind".to_string());
                }
                Err(lines)
            }
        }
    }
}
