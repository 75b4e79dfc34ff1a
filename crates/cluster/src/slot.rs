//! The key to hash slot function (filled in next).
