//! Errors of the ACL model, with upstream 7.0's exact texts.
//!
//! [`RuleError`] is why one rule (`+get`, `~key`, `>pass`, …) was refused:
//! the reasons upstream picks through `errno` in `ACLSetUserStringError`.
//! [`AclError`] is what a whole command (`ACL SETUSER`, `ACL DELUSER`,
//! `ACL GENPASS`) answers. Texts carry no `ERR ` prefix: the engine adds
//! it when it writes the error reply (and, like upstream's
//! `addReplyErrorSdsSafe`, should turn `\r`/`\n` inside into spaces, since
//! rule text is echoed back).

use thiserror::Error;

/// Why a single ACL rule was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RuleError {
    /// `+nosuch`, `-@nosuch`, `-select|0`, `+config|nosuch` (`ENOENT`).
    #[error("Unknown command or category name in ACL")]
    UnknownCommand,
    /// Unknown rule, bad `%` flags, spaces in a pattern, `+select|` (`EINVAL`).
    #[error("Syntax error")]
    Syntax,
    /// A key pattern after `allkeys`/`~*` (`EEXIST`).
    #[error(
        "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not \
         have any effect. Try 'resetkeys' to start with an empty list of patterns"
    )]
    KeyPatternAfterAllKeys,
    /// A channel pattern after `allchannels`/`&*` (`EISDIR`).
    #[error(
        "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does \
         not have any effect. Try 'resetchannels' to start with an empty list of channels"
    )]
    ChannelPatternAfterAllChannels,
    /// `<pass` / `!hash` for a password the user does not have (`ENODEV`).
    #[error("The password you are trying to remove from the user does not exist")]
    NoSuchPassword,
    /// `#hash` / `!hash` that is not 64 lower-case hex digits (`EBADMSG`).
    #[error(
        "The password hash must be exactly 64 characters and contain only lowercase hexadecimal \
         characters"
    )]
    BadPasswordHash,
    /// `+config|get|x`: a first argument of a subcommand (`ECHILD`).
    #[error("Allowing first-arg of a subcommand is not supported")]
    FirstArgOfSubcommand,
}

/// The error of an ACL command, formatted as upstream replies it (without
/// the leading `ERR `).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AclError {
    /// `ACL SETUSER`: one rule failed; nothing was changed.
    #[error("Error in ACL SETUSER modifier '{}': {reason}", String::from_utf8_lossy(.modifier))]
    Rule {
        /// The rule as given (a merged `(...)` selector for selectors).
        modifier: Vec<u8>,
        /// Why it failed.
        reason: RuleError,
    },
    /// `ACL SETUSER`: a `(` argument was never closed.
    #[error(
        "Unmatched parenthesis in acl selector starting at '{}'.",
        String::from_utf8_lossy(.start)
    )]
    UnmatchedParenthesis {
        /// The argument that opened the selector.
        start: Vec<u8>,
    },
    /// `ACL SETUSER`: the user name has white space or NUL in it.
    #[error("Usernames can't contain spaces or null characters")]
    InvalidUsername,
    /// `ACL DELUSER default`.
    #[error("The 'default' user cannot be removed")]
    DefaultUserRemoval,
    /// `ACL GENPASS` with bits outside 1..=4096.
    #[error(
        "ACL GENPASS argument must be the number of bits for the output password, a positive \
         number up to 4096"
    )]
    GenpassBits,
}

impl AclError {
    /// The message as raw bytes: rule text is echoed byte for byte (upstream
    /// prints it with `%s`), where `Display` has to replace invalid UTF-8.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            AclError::Rule { modifier, reason } => {
                let mut out = b"Error in ACL SETUSER modifier '".to_vec();
                out.extend_from_slice(modifier);
                out.extend_from_slice(b"': ");
                out.extend_from_slice(reason.to_string().as_bytes());
                out
            }
            AclError::UnmatchedParenthesis { start } => {
                let mut out = b"Unmatched parenthesis in acl selector starting at '".to_vec();
                out.extend_from_slice(start);
                out.extend_from_slice(b"'.");
                out
            }
            other => other.to_string().into_bytes(),
        }
    }
}
