//! The cluster bus codec (filled in next).
