//! The replication backlog: the last `repl-backlog-size` bytes of the
//! stream, kept so a replica that reconnects can continue from its offset
//! (partial resync) instead of loading a new RDB.
//!
//! Stored as a deque of frozen [`Bytes`] blocks plus one block being
//! filled: feeding copies into the open block once, trimming the oldest
//! bytes is O(1) (drop or advance the front block), and a partial resync
//! reads the history as shared slices of the blocks (only the open block
//! is copied, at most one block's worth).

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

/// Smallest backlog upstream allows (`repl-backlog-size` below it is
/// raised to it).
pub const MIN_BACKLOG_SIZE: usize = 16 * 1024;

/// Size of one block: big enough that per-block overhead is noise, small
/// enough that the copied open block and the slack of a trimmed front
/// block stay small.
const BLOCK_SIZE: usize = 16 * 1024;

/// The history of the stream a primary (or a replica, for its own
/// replicas and for after a promotion) can serve from.
///
/// Offsets are stream offsets: the first byte of a history is offset 1,
/// and a replica asks for the next byte it needs. The backlog only holds
/// bytes; the caller advances [`crate::ReplIds::master_repl_offset`] for
/// the same bytes, and while active `next_offset() ==
/// master_repl_offset + 1`.
#[derive(Debug)]
pub struct Backlog {
    /// Sealed blocks, oldest first.
    blocks: VecDeque<Bytes>,
    /// The block being filled (after the sealed ones).
    open: BytesMut,
    /// Capacity of a block.
    block: usize,
    /// Maximum history kept.
    size: usize,
    /// Bytes held (sealed blocks + open block).
    histlen: usize,
    /// Stream offset of the first byte held.
    first_offset: i64,
    /// Whether the backlog records the stream at all.
    active: bool,
}

impl Backlog {
    /// An inactive backlog that will keep `size` bytes (at least
    /// [`MIN_BACKLOG_SIZE`]).
    pub fn new(size: usize) -> Backlog {
        Backlog::with_block(size.max(MIN_BACKLOG_SIZE), BLOCK_SIZE)
    }

    /// Any size and block size (tests exercise block boundaries with tiny
    /// blocks).
    fn with_block(size: usize, block: usize) -> Backlog {
        Backlog {
            blocks: VecDeque::new(),
            open: BytesMut::new(),
            block: block.max(1),
            size,
            histlen: 0,
            first_offset: 0,
            active: false,
        }
    }

    /// Whether the backlog records the stream (`repl_backlog_active`).
    pub fn active(&self) -> bool {
        self.active
    }

    /// Starts recording, empty, with `next_offset` as the offset of the
    /// next byte fed (the current `master_repl_offset + 1`). Any previous
    /// content is dropped.
    pub fn activate(&mut self, next_offset: i64) {
        self.drop_contents();
        self.first_offset = next_offset;
        self.active = true;
    }

    /// Stops recording and frees the content (`repl-backlog-ttl`, or a
    /// replica attaching to a new primary).
    pub fn deactivate(&mut self) {
        self.drop_contents();
        self.first_offset = 0;
        self.active = false;
    }

    /// Drops the history but keeps recording from the same next offset.
    pub fn clear(&mut self) {
        let next = self.next_offset();
        self.drop_contents();
        self.first_offset = next;
    }

    fn drop_contents(&mut self) {
        self.blocks = VecDeque::new();
        self.open = BytesMut::new();
        self.histlen = 0;
    }

    /// The configured size (`repl_backlog_size`).
    pub fn size(&self) -> usize {
        self.size
    }

    /// `CONFIG SET repl-backlog-size`: keeps the newest history that fits
    /// (at least [`MIN_BACKLOG_SIZE`]), as 7.0 does, rather than starting
    /// over.
    pub fn resize(&mut self, size: usize) {
        self.size = size.max(MIN_BACKLOG_SIZE);
        self.trim();
    }

    /// Stream offset of the oldest byte held (`repl_backlog_first_byte_offset`
    /// while active).
    pub fn first_offset(&self) -> i64 {
        self.first_offset
    }

    /// Stream offset the next fed byte will have.
    pub fn next_offset(&self) -> i64 {
        self.first_offset + self.histlen as i64
    }

    /// Bytes of history held (`repl_backlog_histlen`).
    pub fn histlen(&self) -> usize {
        self.histlen
    }

    /// Appends stream bytes, dropping the oldest beyond the size. Does
    /// nothing while inactive.
    pub fn feed(&mut self, data: &[u8]) {
        if !self.active || data.is_empty() {
            return;
        }
        let mut data = data;
        if data.len() >= self.size {
            // Only the tail of this write survives: skip the rest without
            // copying it.
            let skip = data.len() - self.size;
            self.first_offset += (self.histlen + skip) as i64;
            self.drop_contents();
            data = &data[skip..];
        }
        while !data.is_empty() {
            if self.open.len() >= self.block {
                self.seal();
            }
            if self.open.is_empty() && self.open.capacity() < self.block {
                self.open.reserve(self.block);
            }
            let n = (self.block - self.open.len()).min(data.len());
            self.open.extend_from_slice(&data[..n]);
            self.histlen += n;
            data = &data[n..];
        }
        self.trim();
    }

    /// Moves the full open block to the sealed ones.
    fn seal(&mut self) {
        let full = std::mem::take(&mut self.open);
        self.blocks.push_back(full.freeze());
    }

    /// Drops the oldest bytes until the history fits the size.
    fn trim(&mut self) {
        while self.histlen > self.size {
            let excess = self.histlen - self.size;
            let dropped = match self.blocks.front_mut() {
                Some(front) if front.len() <= excess => {
                    let n = front.len();
                    self.blocks.pop_front();
                    n
                }
                Some(front) => {
                    front.advance(excess);
                    excess
                }
                None => {
                    let n = excess.min(self.open.len());
                    self.open.advance(n);
                    n
                }
            };
            if dropped == 0 {
                break;
            }
            self.histlen -= dropped;
            self.first_offset += dropped as i64;
        }
    }

    /// Whether `offset` (the next byte a replica needs) can be served: the
    /// backlog is active and `first_offset <= offset <= next_offset`.
    pub fn serves(&self, offset: i64) -> bool {
        self.active && offset >= self.first_offset && offset <= self.next_offset()
    }

    /// Bytes from `offset` to the end, if [`Backlog::serves`] it.
    pub fn len_from(&self, offset: i64) -> Option<usize> {
        self.serves(offset)
            .then(|| (self.next_offset() - offset) as usize)
    }

    /// The stream from `offset` to the end as slices of the backlog's
    /// blocks (shared, not copied; the open block is copied), or `None`
    /// when the backlog does not hold `offset`. Empty when `offset` is the
    /// next offset.
    pub fn read_from(&self, offset: i64) -> Option<Vec<Bytes>> {
        if !self.serves(offset) {
            return None;
        }
        let mut skip = (offset - self.first_offset) as usize;
        let mut out = Vec::new();
        for b in &self.blocks {
            if skip >= b.len() {
                skip -= b.len();
                continue;
            }
            out.push(b.slice(skip..));
            skip = 0;
        }
        if self.open.len() > skip {
            out.push(Bytes::copy_from_slice(&self.open[skip..]));
        }
        Some(out)
    }

    /// Memory held by the backlog (`mem_replication_backlog`): the history,
    /// the open block's spare room and the block handles. The consumed
    /// head of a trimmed front block stays allocated until the block is
    /// dropped and is not counted (at most one block).
    pub fn memory(&self) -> usize {
        self.histlen - self.open.len()
            + self.open.capacity()
            + self.blocks.len() * std::mem::size_of::<Bytes>()
    }
}

#[cfg(test)]
#[path = "backlog_tests.rs"]
mod tests;
