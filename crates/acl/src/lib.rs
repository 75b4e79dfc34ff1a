//! Upstream Redis 7.0's ACL user model as a pure library: users and their
//! selectors, rule parsing with upstream's exact error texts, the
//! `ACL LIST` / `ACL GETUSER` descriptions, permission checks, ACL files,
//! `ACL GENPASS` and the ACL LOG. It knows nothing of the engine: commands
//! are opaque [`CmdId`]s described by a [`Catalog`] the engine implements.
//!
//! # Layout
//! - [`catalog`]: [`CmdId`], the fixed [`Category`] list, the [`Catalog`]
//!   trait and the in-memory [`StaticCatalog`].
//! - [`selector`]: [`Selector`] (command bitmap, key patterns with
//!   read/write permissions, channel patterns), its rules, descriptions
//!   and checks; [`KeyAccess`], [`ChannelRef`], [`PubsubDefault`].
//! - [`user`]: [`User`] (flags, password hashes, root and extra
//!   selectors), user-level rules, `ACL LIST`/`ACL GETUSER` output and
//!   [`User::check`] with [`CheckRequest`] / [`Denied`].
//! - [`users`]: the [`Users`] set (default user, atomic `ACL SETUSER`,
//!   `ACL DELUSER`, authentication, `requirepass`) and [`genpass`].
//! - [`aclfile`]: `ACL LOAD` parsing and `ACL SAVE` text.
//! - [`config_users`]: the `user` directives of `redis.conf`.
//! - [`log`]: the ACL LOG ([`AclLog`], [`LogEntry`]).
//! - [`value`]: the reply tree ([`Value`]) for structured replies.
//! - [`error`]: [`RuleError`] and [`AclError`] with upstream's texts.
//!
//! # Typical use by the engine
//! ```
//! use redis_acl::{Catalog, CheckRequest, KeyAccess, StaticCatalog, Users};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let catalog = StaticCatalog::sample();
//! let mut users = Users::new();
//! users.set_user(b"alice", &["on", ">pw", "~app:*", "+get"], &catalog)?;
//! assert!(users.authenticate(b"alice", b"pw"));
//! let alice = users.get(b"alice").ok_or("no alice")?;
//! let get = catalog.lookup("get").ok_or("no get")?;
//! let keys = [(&b"app:1"[..], KeyAccess::READ)];
//! let req = CheckRequest { cmd: get, no_auth: false, first_arg: None, keys: &keys, channels: &[] };
//! assert!(alice.check(&req).is_ok());
//! # Ok(())
//! # }
//! ```

pub mod aclfile;
pub mod catalog;
pub mod config_users;
pub mod error;
pub mod log;
pub mod selector;
pub mod user;
pub mod users;
pub mod value;

pub use aclfile::{parse_acl_file, LOAD_FAILED_SUFFIX};
pub use catalog::{Catalog, Category, CategorySet, CmdId, StaticCatalog};
pub use config_users::check_config_line;
pub use error::{AclError, RuleError};
pub use log::{AclLog, LogContext, LogEntry, LogReason};
pub use selector::{ChannelRef, KeyAccess, KeyPattern, PubsubDefault, Selector};
pub use user::{CheckRequest, Denied, SanitizePayload, User};
pub use users::{genpass, merge_selector_args, Users, DEFAULT_USER};
pub use value::Value;
