//! The byte source under the reader: counts consumed bytes (the offset in
//! every error), keeps the running CRC64, can record what it reads (module
//! data is kept raw), and decodes RDB's primitive fields — lengths,
//! strings (integer and LZF encodings), doubles, little-endian times.
//!
//! Only reads that complete are counted, like upstream's rio layer, so a
//! truncated field reports the offset where that field began.

use std::io::{BufRead, Read};

use bytes::Bytes;

use crate::crc64::crc64;
use crate::error::{Error, ErrorKind, Result};
use crate::lzf;

/// Reads bigger than this are grown chunk by chunk as data arrives, so a
/// corrupt length can never make us allocate more than the input holds.
const DIRECT_READ_MAX: usize = 1 << 16;

/// Length prefix special encodings (top two bits `11`).
pub const ENC_INT8: u64 = 0;
pub const ENC_INT16: u64 = 1;
pub const ENC_INT32: u64 = 2;
pub const ENC_LZF: u64 = 3;

/// A counting, checksumming reader.
pub struct Input<R> {
    inner: R,
    offset: u64,
    crc: u64,
    record: Option<Vec<u8>>,
    /// Deep sanitization (`sanitize-dump-payload`): checks upstream makes
    /// only then (a stream entry's `lp-count`). Everything that could
    /// make the decoded value unsafe to use is checked either way.
    pub deep: bool,
}

impl<R: BufRead> Input<R> {
    /// Wraps `inner`. Small fields are copied straight out of its buffer
    /// (no zeroed temporaries, one `consume` each).
    pub fn new(inner: R) -> Input<R> {
        Input {
            inner,
            offset: 0,
            crc: 0,
            record: None,
            deep: true,
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// CRC64 of everything consumed so far.
    pub fn crc(&self) -> u64 {
        self.crc
    }

    /// An error of `kind` at the current offset.
    pub fn err(&self, kind: ErrorKind) -> Error {
        Error::new(self.offset, kind)
    }

    /// A corruption error at the current offset.
    pub fn corrupt(&self, msg: impl Into<String>) -> Error {
        Error::corrupt(self.offset, msg)
    }

    /// Starts keeping a copy of every byte consumed.
    pub fn start_recording(&mut self) {
        self.record = Some(Vec::new());
    }

    /// Stops recording and returns what was recorded.
    pub fn take_recording(&mut self) -> Vec<u8> {
        self.record.take().unwrap_or_default()
    }

    fn consumed(&mut self, data: &[u8]) {
        self.offset += data.len() as u64;
        self.crc = crc64(self.crc, data);
        if let Some(r) = &mut self.record {
            r.extend_from_slice(data);
        }
    }

    fn map_io(&self, e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            self.err(ErrorKind::UnexpectedEof)
        } else {
            self.err(ErrorKind::Io(e))
        }
    }

    /// Fills `buf` completely.
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        let n = buf.len();
        if let Ok(avail) = self.inner.fill_buf() {
            if avail.len() >= n {
                buf.copy_from_slice(&avail[..n]);
                self.inner.consume(n);
                self.consumed(buf);
                return Ok(());
            }
        }
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.consumed(buf);
                Ok(())
            }
            Err(e) => Err(self.map_io(e)),
        }
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8> {
        if let Ok(&[b, ..]) = self.inner.fill_buf() {
            self.inner.consume(1);
            self.consumed(&[b]);
            return Ok(b);
        }
        let mut b = [0u8; 1];
        self.fill(&mut b)?;
        Ok(b[0])
    }

    /// Reads exactly `n` bytes without trusting `n` for the allocation.
    pub fn bytes(&mut self, n: u64) -> Result<Vec<u8>> {
        if n <= DIRECT_READ_MAX as u64 {
            let want = n as usize;
            if let Ok(avail) = self.inner.fill_buf() {
                if avail.len() >= want {
                    // Common case: the whole field is buffered already.
                    let v = avail[..want].to_vec();
                    self.inner.consume(want);
                    self.consumed(&v);
                    return Ok(v);
                }
            }
            let mut v = vec![0u8; n as usize];
            self.fill(&mut v)?;
            return Ok(v);
        }
        let mut v: Vec<u8> = Vec::with_capacity(DIRECT_READ_MAX);
        let got = (&mut self.inner)
            .take(n)
            .read_to_end(&mut v)
            .map_err(|e| self.map_io(e))?;
        if got as u64 != n {
            return Err(self.err(ErrorKind::UnexpectedEof));
        }
        self.consumed(&v);
        Ok(v)
    }

    /// Reads an RDB length; the flag is true for a special encoding (then
    /// the value is the encoding type).
    pub fn len_enc(&mut self) -> Result<(u64, bool)> {
        let b = self.u8()?;
        match b >> 6 {
            0 => Ok(((b & 0x3f) as u64, false)),
            1 => {
                let lo = self.u8()?;
                Ok((((b & 0x3f) as u64) << 8 | lo as u64, false))
            }
            3 => Ok(((b & 0x3f) as u64, true)),
            _ => match b {
                0x80 => {
                    let mut w = [0u8; 4];
                    self.fill(&mut w)?;
                    Ok((u32::from_be_bytes(w) as u64, false))
                }
                0x81 => {
                    let mut w = [0u8; 8];
                    self.fill(&mut w)?;
                    Ok((u64::from_be_bytes(w), false))
                }
                other => {
                    Err(self.corrupt(format!("Unknown length encoding {other} in rdbLoadLen()")))
                }
            },
        }
    }

    /// Reads a plain length.
    pub fn len(&mut self) -> Result<u64> {
        Ok(self.len_enc()?.0)
    }

    /// Reads a string in any of its encodings.
    pub fn string(&mut self) -> Result<Bytes> {
        let (len, encoded) = self.len_enc()?;
        if !encoded {
            return Ok(Bytes::from(self.bytes(len)?));
        }
        let v: i64 = match len {
            ENC_INT8 => self.u8()? as i8 as i64,
            ENC_INT16 => {
                let mut w = [0u8; 2];
                self.fill(&mut w)?;
                i16::from_le_bytes(w) as i64
            }
            ENC_INT32 => {
                let mut w = [0u8; 4];
                self.fill(&mut w)?;
                i32::from_le_bytes(w) as i64
            }
            ENC_LZF => {
                let clen = self.len()?;
                let ulen = self.len()?;
                let c = self.bytes(clen)?;
                let ulen = usize::try_from(ulen)
                    .map_err(|_| self.corrupt("Invalid LZF compressed string"))?;
                return lzf::decompress(&c, ulen)
                    .map(Bytes::from)
                    .map_err(|_| self.corrupt("Invalid LZF compressed string"));
            }
            other => return Err(self.corrupt(format!("Unknown RDB string encoding type {other}"))),
        };
        Ok(Bytes::from(v.to_string()))
    }

    /// Reads the old text form of a double (ZSET type 1 scores).
    pub fn text_double(&mut self) -> Result<f64> {
        let n = self.u8()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let s = self.bytes(n as u64)?;
                crate::numfmt::parse_f64(&s).ok_or_else(|| self.corrupt("Invalid double value"))
            }
        }
    }

    /// Reads an 8-byte little-endian IEEE double.
    pub fn binary_double(&mut self) -> Result<f64> {
        let mut w = [0u8; 8];
        self.fill(&mut w)?;
        Ok(f64::from_le_bytes(w))
    }

    /// Reads an 8-byte little-endian signed integer (millisecond times).
    pub fn i64_le(&mut self) -> Result<i64> {
        let mut w = [0u8; 8];
        self.fill(&mut w)?;
        Ok(i64::from_le_bytes(w))
    }

    /// Reads a 4-byte little-endian signed integer (second times).
    pub fn i32_le(&mut self) -> Result<i32> {
        let mut w = [0u8; 4];
        self.fill(&mut w)?;
        Ok(i32::from_le_bytes(w))
    }
}
