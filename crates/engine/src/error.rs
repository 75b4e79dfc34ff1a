//! The error replies of command handlers, with upstream's exact texts.
//!
//! A [`CmdError`] holds the whole error line without the leading `-`; its
//! first word is the error code counted in `INFO errorstats`.

use bytes::Bytes;

/// An error reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmdError(pub Bytes);

/// What every handler returns; the reply itself is written into the context.
pub type CmdResult = Result<(), CmdError>;

impl CmdError {
    /// An error from a static text.
    pub const fn fixed(s: &'static str) -> CmdError {
        CmdError(Bytes::from_static(s.as_bytes()))
    }

    /// An error from a formatted text.
    pub fn msg(s: impl Into<String>) -> CmdError {
        CmdError(Bytes::from(s.into()))
    }

    /// The error code (the first word), e.g. `ERR` or `WRONGTYPE`.
    pub fn code(&self) -> &[u8] {
        let end = self
            .0
            .iter()
            .position(|&c| c == b' ')
            .unwrap_or(self.0.len());
        &self.0[..end]
    }
}

pub const SYNTAX: CmdError = CmdError::fixed("ERR syntax error");
pub const NOT_INTEGER: CmdError = CmdError::fixed("ERR value is not an integer or out of range");
pub const NOT_FLOAT: CmdError = CmdError::fixed("ERR value is not a valid float");
pub const WRONGTYPE: CmdError =
    CmdError::fixed("WRONGTYPE Operation against a key holding the wrong kind of value");
pub const NO_SUCH_KEY: CmdError = CmdError::fixed("ERR no such key");
pub const DB_RANGE: CmdError = CmdError::fixed("ERR DB index is out of range");
pub const OVERFLOW: CmdError = CmdError::fixed("ERR increment or decrement would overflow");
pub const STRING_TOO_BIG: CmdError =
    CmdError::fixed("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
pub const NOAUTH: CmdError = CmdError::fixed("NOAUTH Authentication required.");

/// `ERR wrong number of arguments for '<name>' command`.
pub fn wrong_arity(full_name: &str) -> CmdError {
    CmdError::msg(format!(
        "ERR wrong number of arguments for '{full_name}' command"
    ))
}

/// `ERR invalid expire time in '<cmd>' command`.
pub fn invalid_expire(cmd: &str) -> CmdError {
    CmdError::msg(format!("ERR invalid expire time in '{cmd}' command"))
}

/// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
pub fn unknown_subcommand(sub: &[u8], cmd: &str) -> CmdError {
    let mut s = String::from("ERR unknown subcommand '");
    s.push_str(&truncated(sub, 128));
    s.push_str("'. Try ");
    s.push_str(&cmd.to_ascii_uppercase());
    s.push_str(" HELP.");
    CmdError::msg(s)
}

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try
/// <CMD> HELP.` (upstream's `addReplySubcommandSyntaxError`).
pub fn subcommand_syntax(sub: &[u8], cmd: &str) -> CmdError {
    CmdError::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        truncated(sub, 128),
        cmd.to_ascii_uppercase()
    ))
}

/// Lossy text of a client argument, cut at `max` bytes like upstream's `%.128s`.
pub fn truncated(arg: &[u8], max: usize) -> String {
    let cut = &arg[..arg.len().min(max)];
    // Upstream prints raw bytes; an error line cannot carry CR/LF, so those
    // are replaced by spaces as upstream's addReplyErrorLength does.
    String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}
