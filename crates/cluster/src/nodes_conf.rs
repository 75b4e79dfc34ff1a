//! `nodes.conf` (filled in next).
