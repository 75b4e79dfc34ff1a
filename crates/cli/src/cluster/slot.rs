//! Hash slots of keys: CRC16 (the XMODEM variant, polynomial 0x1021, as the
//! cluster specification prescribes) of the key, or of its `{hash tag}`,
//! modulo 16384.

/// Number of hash slots in a cluster.
pub const SLOTS: usize = 16384;

/// CRC16/XMODEM of `data`, computed bit by bit.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The slot of `key`: only the part between the first `{` and the next `}`
/// counts when that part is not empty.
pub fn key_slot(key: &[u8]) -> usize {
    let tagged = key.iter().position(|&c| c == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        match rest.iter().position(|&c| c == b'}') {
            Some(0) | None => None,
            Some(close) => Some(&rest[..close]),
        }
    });
    usize::from(crc16(tagged.unwrap_or(key))) & (SLOTS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // The check value of CRC16/XMODEM and the spec's example.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(
            key_slot(b"foo{}{bar}"),
            usize::from(crc16(b"foo{}{bar}")) & 16383
        );
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
    }
}
