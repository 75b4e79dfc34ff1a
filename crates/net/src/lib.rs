//! The network side of the suite's daemons (redis-server today,
//! redis-sentinel and redis-proxy later): binding, accepting, and the
//! per-connection read / parse / execute / write loop, generic over a small
//! service trait so a daemon reuses it without this crate knowing its
//! engine.
//!
//! A daemon implements [`Service`] (admission, per-accept settings) and
//! [`Session`] (one client: run parsed requests, report limits and
//! state); this crate owns sockets, buffers, the RESP request parser,
//! timers and the limits upstream enforces on connections. It logs
//! nothing: why a connection ended comes back as a [`CloseReason`], and
//! binding errors carry upstream's log lines.
//!
//! # Layout
//! - [`service`]: the [`Service`] / [`Session`] traits and the values they
//!   exchange ([`Peer`], [`ConnSettings`], [`IoDelta`], [`Flow`],
//!   [`CloseReason`]).
//! - [`mailbox`]: a connection's push mailbox and its [`ConnSignal`] (kill,
//!   close after flush, pushed messages).
//! - [`conn`]: [`serve`], the loop of one connection.
//! - [`listener`]: [`bind_all`] and friends, binding like upstream.
//! - [`accept`]: [`Acceptors`], the running accept tasks, rebindable at
//!   runtime.
//! - [`process`]: `daemonize` and systemd notification.

pub mod accept;
pub mod conn;
pub mod listener;
pub mod mailbox;
pub mod process;
pub mod service;

pub use accept::{Acceptors, NoRuntime};
pub use conn::serve;
pub use listener::{bind_all, bind_tcp_all, bind_unix, BindError, Listeners};
pub use mailbox::{push_channel, Closed, ConnSignal, PushReceiver, PushSender};
pub use service::{
    Blocked, CloseReason, ConnSettings, Console, DurableWait, Flow, IoDelta, OutputLimit, Peer,
    Service, Session, PROTECTED_MODE_ERROR,
};
