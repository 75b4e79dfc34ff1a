//! ACL files (`aclfile`): parsing for `ACL LOAD` / startup and writing for
//! `ACL SAVE`, as upstream 7.0's `ACLLoadFromFile` / `ACLSaveToFile`.
//!
//! Format: one `user <name> <rules...>` per line; blank lines are skipped;
//! lines are trimmed of spaces, tabs, CR and LF, then split on single
//! spaces (no quoting, so doubled spaces give empty, ignored rules).
//! There are no comments: any other line is an error. Loading is all or
//! nothing: errors from every line are collected (upstream's texts, with
//! `<file>:<line>` prefixes) and nothing is applied if there was any.
//! Reading the file is the engine's job (upstream's message for that is
//! `Error loading ACLs, opening file '<path>': <strerror>`).

use crate::catalog::Catalog;
use crate::error::RuleError;
use crate::selector::{has_spaces, PubsubDefault};
use crate::user::User;
use crate::users::{merge_selector_args, Users, DEFAULT_USER};

/// The tail upstream appends to every failed load.
pub const LOAD_FAILED_SUFFIX: &str =
    "WARNING: ACL errors detected, no change to the previously active ACL rules was performed";

fn trim<'a>(mut s: &'a [u8], set: &[u8]) -> &'a [u8] {
    while let Some((first, rest)) = s.split_first() {
        if !set.contains(first) {
            break;
        }
        s = rest;
    }
    while let Some((last, rest)) = s.split_last() {
        if !set.contains(last) {
            break;
        }
        s = rest;
    }
    s
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// Parses an ACL file's text into users. `filename` is only used in error
/// messages. On success the result always contains a `default` user (a
/// fresh `on nopass ~* &* +@all` one if the file has none). On failure the
/// error is the complete message upstream replies to `ACL LOAD` (without
/// `ERR `), ending with [`LOAD_FAILED_SUFFIX`].
pub fn parse_acl_file(
    filename: &str,
    text: &[u8],
    catalog: &dyn Catalog,
    pubsub: PubsubDefault,
) -> Result<Vec<User>, String> {
    let mut errors = String::new();
    let mut users: Vec<User> = Vec::new();
    for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
        let linenum = i + 1;
        let line = trim(raw, b" \t\r\n");
        if line.is_empty() {
            continue;
        }
        let argv: Vec<&[u8]> = line.split(|&c| c == b' ').collect();
        if argv.len() < 2 || argv[0] != b"user" {
            errors.push_str(&format!(
                "{filename}:{linenum} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = argv[1];
        if has_spaces(name) {
            errors.push_str(&format!(
                "'{filename}:{linenum}: username '{}' contains invalid characters. ",
                lossy(name)
            ));
            continue;
        }
        if users.iter().any(|u| u.name() == name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                lossy(name)
            ));
            continue;
        }
        let mut user = User::new(name, pubsub);
        let merged = match merge_selector_args(&argv[2..]) {
            Ok(m) => m,
            Err(_) => {
                // Upstream 7.0.15 crashes here; the intended message is kept.
                errors.push_str(&format!(
                    "{filename}:{linenum}: Unmatched parenthesis in selector definition."
                ));
                users.push(user);
                continue;
            }
        };
        let mut syntax_error = false;
        for arg in &merged {
            let arg = trim(arg, b"\t\r\n");
            match user.apply_rule(arg, catalog, pubsub) {
                Ok(()) => {}
                Err(RuleError::UnknownCommand) => errors.push_str(&format!(
                    "{filename}:{linenum}: Error in applying operation '{}': {}. ",
                    lossy(arg),
                    RuleError::UnknownCommand
                )),
                Err(e) if !syntax_error => {
                    errors.push_str(&format!("{filename}:{linenum}: {e}. "));
                    syntax_error = true;
                }
                Err(_) => {}
            }
        }
        users.push(user);
    }
    if !errors.is_empty() {
        errors.push_str(LOAD_FAILED_SUFFIX);
        return Err(errors);
    }
    if !users.iter().any(|u| u.name() == DEFAULT_USER) {
        users.push(User::default_user());
    }
    Ok(users)
}

impl Users {
    /// `ACL LOAD`: replaces every user with the file's, or changes nothing
    /// and returns upstream's error text. The engine must then disconnect
    /// clients whose user changed or vanished, as upstream does.
    pub fn load_acl_file(
        &mut self,
        filename: &str,
        text: &[u8],
        catalog: &dyn Catalog,
    ) -> Result<(), String> {
        let users = parse_acl_file(filename, text, catalog, self.pubsub_default())?;
        self.replace_all(users);
        Ok(())
    }

    /// `ACL SAVE`: the file text, one `ACL LIST` line per user, each ending
    /// in `\n`. (Upstream writes a temporary file and renames it over the
    /// old one; that is the engine's part.)
    pub fn to_acl_file(&self, catalog: &dyn Catalog) -> Vec<u8> {
        let mut out = Vec::new();
        for line in self.list(catalog) {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
        out
    }
}

#[cfg(test)]
#[path = "aclfile_tests.rs"]
mod tests;
