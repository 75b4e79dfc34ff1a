//! The set of users of a server: the `default` user (always present), the
//! others by name in byte order (the order `ACL USERS` and `ACL LIST` use,
//! as upstream's radix tree), atomic `ACL SETUSER`, `ACL DELUSER`,
//! authentication, `requirepass` and `ACL GENPASS`.

use std::collections::BTreeMap;

use rand::RngCore;

use crate::catalog::Catalog;
use crate::error::AclError;
use crate::selector::{has_spaces, PubsubDefault};
use crate::user::User;

/// The name of the user that always exists.
pub const DEFAULT_USER: &[u8] = b"default";

/// All users of a server. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Users {
    default: User,
    others: BTreeMap<Vec<u8>, User>,
    pubsub_default: PubsubDefault,
}

impl Default for Users {
    fn default() -> Self {
        Users::new()
    }
}

/// Joins arguments that form one selector (`"(+get"`, `"~x)"`) as
/// upstream's `ACLMergeSelectorArguments`; on an unclosed `(`, returns the
/// index of the argument that opened it.
pub fn merge_selector_args<R: AsRef<[u8]>>(args: &[R]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::with_capacity(args.len());
    // The index of the argument that opened the selector, and its text.
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (j, arg) in args.iter().enumerate() {
        let op = arg.as_ref();
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((j, op.to_vec()));
            continue;
        }
        if let Some((_, sel)) = open.as_mut() {
            sel.push(b' ');
            sel.extend_from_slice(op);
            if op.last() == Some(&b')') {
                if let Some((_, sel)) = open.take() {
                    out.push(sel);
                }
            }
            continue;
        }
        out.push(op.to_vec());
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(out),
    }
}

/// Applies `rules` to `user` in order, stopping at the first error, which
/// is reported as `ACL SETUSER` does.
fn apply_all(
    user: &mut User,
    rules: &[Vec<u8>],
    catalog: &dyn Catalog,
    pubsub: PubsubDefault,
) -> Result<(), AclError> {
    for rule in rules {
        user.apply_rule(rule, catalog, pubsub)
            .map_err(|reason| AclError::Rule {
                modifier: rule.clone(),
                reason,
            })?;
    }
    Ok(())
}

impl Users {
    /// Only the default user, `on nopass ~* &* +@all`, and
    /// `acl-pubsub-default` at 7.0's `resetchannels`.
    pub fn new() -> Users {
        Users {
            default: User::default_user(),
            others: BTreeMap::new(),
            pubsub_default: PubsubDefault::ResetChannels,
        }
    }

    /// The current `acl-pubsub-default`.
    pub fn pubsub_default(&self) -> PubsubDefault {
        self.pubsub_default
    }

    /// Changes `acl-pubsub-default` (affects users and selectors created
    /// from now on, and `reset`).
    pub fn set_pubsub_default(&mut self, pubsub: PubsubDefault) {
        self.pubsub_default = pubsub;
    }

    /// The `default` user.
    pub fn default_user(&self) -> &User {
        &self.default
    }

    /// A user by name.
    pub fn get(&self, name: &[u8]) -> Option<&User> {
        if name == DEFAULT_USER {
            Some(&self.default)
        } else {
            self.others.get(name)
        }
    }

    /// Every user in name order (byte-wise, as `ACL USERS`).
    pub fn iter(&self) -> impl Iterator<Item = &User> {
        let (before, after): (Vec<&User>, Vec<&User>) =
            self.others.values().partition(|u| u.name() < DEFAULT_USER);
        before
            .into_iter()
            .chain(std::iter::once(&self.default))
            .chain(after)
    }

    /// The user names in `ACL USERS` order.
    pub fn names(&self) -> Vec<&[u8]> {
        self.iter().map(User::name).collect()
    }

    /// The `ACL LIST` lines, in order.
    pub fn list(&self, catalog: &dyn Catalog) -> Vec<Vec<u8>> {
        self.iter().map(|u| u.acl_list_line(catalog)).collect()
    }

    /// `ACL SETUSER name rules...`: creates the user if needed and applies
    /// every rule to a copy, committing only if all succeed. Selector
    /// arguments split over several rules (`"(+get"`, `"~x)"`) are joined
    /// first.
    pub fn set_user<R: AsRef<[u8]>>(
        &mut self,
        name: &[u8],
        rules: &[R],
        catalog: &dyn Catalog,
    ) -> Result<(), AclError> {
        if has_spaces(name) {
            return Err(AclError::InvalidUsername);
        }
        let merged = merge_selector_args(rules).map_err(|i| AclError::UnmatchedParenthesis {
            start: rules
                .get(i)
                .map(|r| r.as_ref().to_vec())
                .unwrap_or_default(),
        })?;
        let mut user = match self.get(name) {
            Some(u) => u.clone(),
            None => User::new(name, self.pubsub_default),
        };
        apply_all(&mut user, &merged, catalog, self.pubsub_default)?;
        self.put(user);
        Ok(())
    }

    /// Inserts or replaces a user (by its name).
    pub fn put(&mut self, user: User) {
        if user.name() == DEFAULT_USER {
            self.default = user;
        } else {
            self.others.insert(user.name().to_vec(), user);
        }
    }

    /// `ACL DELUSER names...`: refuses (deleting nothing) if `default` is
    /// among them; otherwise deletes those that exist and returns their
    /// names (the reply is their count; the engine must also disconnect
    /// clients authenticated as them).
    pub fn delete<R: AsRef<[u8]>>(&mut self, names: &[R]) -> Result<Vec<Vec<u8>>, AclError> {
        if names.iter().any(|n| n.as_ref() == DEFAULT_USER) {
            return Err(AclError::DefaultUserRemoval);
        }
        let mut deleted = Vec::new();
        for n in names {
            if let Some(u) = self.others.remove(n.as_ref()) {
                deleted.push(u.name().to_vec());
            }
        }
        Ok(deleted)
    }

    /// Whether `name`/`password` logs in (unknown users never do). The
    /// engine logs an `auth` ACL LOG entry and replies `WRONGPASS` when
    /// this is false.
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> bool {
        self.get(name).is_some_and(|u| u.check_password(password))
    }

    /// `requirepass`: `resetpass` on the default user, then `>password`, or
    /// `nopass` when `None` or empty (as upstream's
    /// `ACLUpdateDefaultUserPassword`).
    pub fn set_requirepass(&mut self, password: Option<&[u8]>, catalog: &dyn Catalog) {
        let pubsub = self.pubsub_default;
        let _ = self.default.apply_rule(b"resetpass", catalog, pubsub);
        match password {
            Some(p) if !p.is_empty() => {
                let mut rule = b">".to_vec();
                rule.extend_from_slice(p);
                let _ = self.default.apply_rule(&rule, catalog, pubsub);
            }
            _ => {
                let _ = self.default.apply_rule(b"nopass", catalog, pubsub);
            }
        }
    }

    /// Replaces every user at once (what a successful `ACL LOAD` does);
    /// a fresh default user is made if `users` has none.
    pub fn replace_all(&mut self, users: Vec<User>) {
        self.default = User::default_user();
        self.others.clear();
        for u in users {
            self.put(u);
        }
    }
}

/// `ACL GENPASS [bits]`: `bits` (default 256) random bits as lower-case
/// hex, rounded up to whole hex digits; 1..=4096 bits.
pub fn genpass(bits: Option<i64>) -> Result<String, AclError> {
    let bits = bits.unwrap_or(256);
    if !(1..=4096).contains(&bits) {
        return Err(AclError::GenpassBits);
    }
    let chars = usize::try_from((bits + 3) / 4).map_err(|_| AclError::GenpassBits)?;
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out.truncate(chars);
    Ok(out)
}

#[cfg(test)]
#[path = "users_tests.rs"]
mod tests;
