//! DUMP / RESTORE payloads: `type byte | value | RDB version (2 bytes LE) |
//! CRC64 (8 bytes LE) of everything before it`.

use crate::consts::RDB_VERSION;
use crate::crc64::crc64;
use crate::error::{Error, ErrorKind, Result};
use crate::input::Input;
use crate::model::RdbValue;
use crate::reader::{is_object_type, read_value};
use crate::writer::{value_type, write_value, Out, WriterOptions};

/// DUMP with default options (LZF on, default encoding thresholds).
pub fn dump_payload(v: &RdbValue) -> Vec<u8> {
    dump_payload_with(v, &WriterOptions::default())
}

/// DUMP with the server's `rdbcompression` and encoding thresholds.
pub fn dump_payload_with(v: &RdbValue, opts: &WriterOptions) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut out = Out::new(&mut buf);
    let t = value_type(v, opts);
    // Writing into a Vec cannot fail.
    let _ = out
        .put(&[t])
        .and_then(|()| write_value(&mut out, v, t, opts));
    buf.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let crc = crc64(0, &buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    buf
}

/// RESTORE's payload check and decode. Errors map to upstream's replies
/// with [`Error::restore_message`].
pub fn parse_payload(p: &[u8]) -> Result<RdbValue> {
    parse_payload_checked(p, true, true)
}

/// [`parse_payload`], with the CRC64 check optional (`DEBUG
/// SET-SKIP-CHECKSUM-VALIDATION 1`: the version is still checked) and
/// upstream's deep-only checks optional (`sanitize-dump-payload`).
pub fn parse_payload_checked(p: &[u8], verify_checksum: bool, deep: bool) -> Result<RdbValue> {
    let bad = || Error::new(0, ErrorKind::PayloadVersionOrChecksum);
    if p.len() < 10 {
        return Err(bad());
    }
    let footer = p.len() - 10;
    let version = u16::from_le_bytes([p[footer], p[footer + 1]]);
    if version as u32 > RDB_VERSION {
        return Err(bad());
    }
    let mut stored = [0u8; 8];
    stored.copy_from_slice(&p[p.len() - 8..]);
    if verify_checksum && crc64(0, &p[..p.len() - 8]) != u64::from_le_bytes(stored) {
        return Err(bad());
    }
    // Like upstream, the value is read from the whole payload: a value that
    // runs into the footer bytes is not detected as such.
    let mut input = Input::new(p);
    input.deep = deep;
    let t = input.u8()?;
    if !is_object_type(t) {
        return Err(input.err(ErrorKind::InvalidType(t)));
    }
    let v = read_value(&mut input, t)?;
    // An empty collection is refused as upstream's loader refuses it.
    if v.is_empty_collection() {
        return Err(input.err(ErrorKind::EmptyKey));
    }
    Ok(v)
}

/// `FUNCTION DUMP`: every library as a FUNCTION2 record (its code), then
/// the RDB version and the CRC64, as upstream's payload.
pub fn functions_payload(codes: &[&[u8]], compress: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut out = Out::new(&mut buf);
    for code in codes {
        // Writing into a Vec cannot fail.
        let _ = out
            .put(&[crate::consts::OP_FUNCTION2])
            .and_then(|()| out.string(code, compress));
    }
    buf.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let crc = crc64(0, &buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    buf
}

/// Why a `FUNCTION RESTORE` payload is refused (upstream's reply texts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionsPayloadError {
    #[error("ERR DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    #[error("ERR given type is not a function")]
    NotAFunction,
    #[error("ERR Pre-GA function format not supported")]
    PreGa,
    #[error("ERR Bad data format")]
    BadData,
}

/// `FUNCTION RESTORE`: the library codes of a payload.
pub fn parse_functions_payload(
    p: &[u8],
) -> std::result::Result<Vec<Vec<u8>>, FunctionsPayloadError> {
    if p.len() < 10 {
        return Err(FunctionsPayloadError::VersionOrChecksum);
    }
    let footer = p.len() - 10;
    let version = u16::from_le_bytes([p[footer], p[footer + 1]]);
    let mut stored = [0u8; 8];
    stored.copy_from_slice(&p[p.len() - 8..]);
    if version as u32 > RDB_VERSION || crc64(0, &p[..p.len() - 8]) != u64::from_le_bytes(stored) {
        return Err(FunctionsPayloadError::VersionOrChecksum);
    }
    let body = &p[..footer];
    let mut input = Input::new(body);
    let mut codes = Vec::new();
    while input.offset() < body.len() as u64 {
        match input.u8() {
            Ok(crate::consts::OP_FUNCTION2) => {}
            Ok(crate::consts::OP_FUNCTION_PRE_GA) => return Err(FunctionsPayloadError::PreGa),
            Ok(_) => return Err(FunctionsPayloadError::NotAFunction),
            Err(_) => return Err(FunctionsPayloadError::BadData),
        }
        let code = input.string().map_err(|_| FunctionsPayloadError::BadData)?;
        codes.push(code.to_vec());
    }
    Ok(codes)
}
