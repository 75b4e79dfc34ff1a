//! The `user` directives of `redis.conf`, read as upstream 7.0 reads them,
//! in two steps:
//! - [`check_config_line`] while the file is read (upstream's
//!   `ACLAppendUserForLoading`): the rules are tried on a scratch user;
//!   syntax errors are fatal configuration errors, unknown commands are
//!   not (they are reported when the users are made).
//! - [`Users::load_configured`] at startup (upstream's
//!   `ACLLoadConfiguredUsers`): each user is made and its rules applied,
//!   and the first failure is the line logged before exiting.

use crate::catalog::StaticCatalog;
use crate::error::RuleError;
use crate::selector::has_spaces;
use crate::user::User;
use crate::users::{merge_selector_args, Users, DEFAULT_USER};
use crate::PubsubDefault;

/// Checks the rules of a `user` line (`argv[0]` is `user`, `argv[1]` the
/// name). The error is what upstream prints after `Error in user
/// declaration`: the index in `argv` of the argument it names, and the
/// reason. As 7.0 does, that index is the failing rule's position among
/// the rules (so it names the directive or the user rather than the rule),
/// and an unclosed `(` reports the unknown-command reason.
pub fn check_config_line(argv: &[String]) -> Result<(), (usize, String)> {
    let rules = argv.get(2..).unwrap_or_default();
    let merged = merge_selector_args(rules)
        .map_err(|start| (start, RuleError::UnknownCommand.to_string()))?;
    let catalog = StaticCatalog::default();
    let mut scratch = User::new(b"", PubsubDefault::ResetChannels);
    for (j, rule) in merged.iter().enumerate() {
        match scratch.apply_rule(rule, &catalog, PubsubDefault::ResetChannels) {
            // Commands are known only once the server has its table.
            Ok(()) | Err(RuleError::UnknownCommand) => {}
            Err(e) => return Err((j, e.to_string())),
        }
    }
    Ok(())
}

impl Users {
    /// Makes the users of the `user` lines (`[name, rules...]` each, in
    /// file order). `default` is reset before its rules; other users start
    /// as new users do. Returns the notices to log (disabled users), or
    /// the error line upstream logs before `Critical error while loading
    /// ACLs. Exiting.`.
    pub fn load_configured(
        &mut self,
        lines: &[Vec<String>],
        catalog: &dyn crate::Catalog,
    ) -> Result<Vec<String>, String> {
        let pubsub = self.pubsub_default();
        let mut notices = Vec::new();
        for line in lines {
            let Some((name, rules)) = line.split_first() else {
                continue;
            };
            if has_spaces(name.as_bytes()) {
                return Err("Spaces not allowed in ACL usernames".to_string());
            }
            let merged = merge_selector_args(rules).map_err(|start| {
                format!(
                    "Error loading ACL rule '{}' for the user named '{name}': {}",
                    rules.get(start).map_or("", String::as_str),
                    RuleError::UnknownCommand
                )
            })?;
            let mut user = match self.get(name.as_bytes()) {
                Some(existing) if name.as_bytes() == DEFAULT_USER => {
                    let mut u = existing.clone();
                    // `reset` only fails on a catalog error, impossible
                    // for the rules it stands for.
                    let _ = u.apply_rule(b"reset", catalog, pubsub);
                    u
                }
                _ => User::new(name.as_bytes(), pubsub),
            };
            for rule in &merged {
                user.apply_rule(rule, catalog, pubsub).map_err(|e| {
                    format!(
                        "Error loading ACL rule '{}' for the user named '{name}': {e}",
                        String::from_utf8_lossy(rule)
                    )
                })?;
            }
            if !user.enabled() {
                notices.push(format!(
                    "The user '{name}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error."
                ));
            }
            self.put(user);
        }
        Ok(notices)
    }
}

#[cfg(test)]
#[path = "config_users_tests.rs"]
mod tests;
