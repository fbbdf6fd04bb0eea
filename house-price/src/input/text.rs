//! What text a body or a file holds, by one rule for every route of both apps and for files
//! scored as streams.
//!
//! The rule is the Functions host's: it reads request bodies with a .NET `StreamReader` that
//! detects byte order marks (azure-functions-host `Extensions/HttpRequestExtensions.cs`), so a
//! UTF-8 mark is dropped and UTF-16 or UTF-32 with its mark is decoded. Without a mark, a NUL
//! byte among the first four means UTF-16 or UTF-32 (UTF-8 JSON and CSV never start so). And
//! compressed data is recognised by its first bytes: the host forwards a body without its
//! `Content-Encoding` header (it copies headers with `TryAddWithoutValidation`, which .NET
//! refuses for content headers), so the bytes are all that is left to tell.

use std::io::Read;

/// How the bytes after the first few are to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// UTF-8, after a mark of `mark` bytes (0 or 3).
    Utf8 { mark: usize },
    /// UTF-16 or UTF-32 (`width` 2 or 4), after its mark.
    Wide {
        width: usize,
        little_endian: bool,
        name: &'static str,
    },
}

impl Form {
    /// The length of the byte order mark.
    fn mark(self) -> usize {
        match self {
            Form::Utf8 { mark } => mark,
            Form::Wide { width, .. } => width,
        }
    }
}

/// Why bytes are not text this rule reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotText {
    /// Compressed data or an archive, by its magic number.
    Compressed(&'static str),
    /// NUL bytes at the start but no mark.
    WideWithoutMark,
}

/// The form of text starting with `start` (at least four bytes, unless the whole text is
/// shorter).
pub(crate) fn sniff(start: &[u8]) -> Result<Form, NotText> {
    if let Some(format) = compressed(start) {
        return Err(NotText::Compressed(format));
    }
    let wide = |width, little_endian, name| Form::Wide {
        width,
        little_endian,
        name,
    };
    Ok(match start {
        // Excel's "CSV UTF-8" and PowerShell write it; RFC 8259 lets a JSON reader ignore it.
        [0xEF, 0xBB, 0xBF, ..] => Form::Utf8 { mark: 3 },
        [0xFF, 0xFE, 0, 0, ..] => wide(4, true, "UTF-32"),
        [0, 0, 0xFE, 0xFF, ..] => wide(4, false, "UTF-32"),
        [0xFF, 0xFE, ..] => wide(2, true, "UTF-16"),
        [0xFE, 0xFF, ..] => wide(2, false, "UTF-16"),
        _ if start.iter().take(4).any(|b| *b == 0) => return Err(NotText::WideWithoutMark),
        _ => Form::Utf8 { mark: 0 },
    })
}

/// The compression or archive format whose magic number `start` begins with. Only formats
/// whose first bytes no JSON or CSV text can begin with: brotli has no magic number, and is
/// caught as bytes that are not UTF-8.
fn compressed(start: &[u8]) -> Option<&'static str> {
    Some(match start {
        [0x1F, 0x8B, ..] => "gzip",
        [0x28, 0xB5, 0x2F, 0xFD, ..] => "zstd",
        [0xFD, b'7', b'z', b'X', ..] => "xz",
        [b'B', b'Z', b'h', b'1'..=b'9', ..] => "bzip2",
        // zlib ("deflate" as HTTP names it): 0x78 and a check byte that is not text.
        [0x78, 0x01 | 0x9C | 0xDA, ..] => "deflate",
        [b'P', b'K', 0x03, 0x04, ..] => "zip",
        [b'7', b'z', 0xBC, 0xAF, ..] => "7z",
        _ => return None,
    })
}

/// Decodes UTF-16 or UTF-32 code units to UTF-8; `None` for an odd length or a bad unit.
pub(crate) fn decode_wide(bytes: &[u8], width: usize, little_endian: bool) -> Option<String> {
    if !bytes.len().is_multiple_of(width) {
        return None;
    }
    if width == 2 {
        let units = bytes.chunks_exact(2).map(|p| {
            if little_endian {
                u16::from_le_bytes([p[0], p[1]])
            } else {
                u16::from_be_bytes([p[0], p[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .ok()
    } else {
        bytes
            .chunks_exact(4)
            .map(|p| {
                let w = [p[0], p[1], p[2], p[3]];
                char::from_u32(if little_endian {
                    u32::from_le_bytes(w)
                } else {
                    u32::from_be_bytes(w)
                })
            })
            .collect()
    }
}

/// A stream read by the same rule as a whole body: a UTF-8 mark skipped, UTF-16 and UTF-32
/// decoded to UTF-8 as they arrive, a chunk at a time, so a file of any size is read in
/// bounded memory.
pub struct TextReader<R> {
    inner: R,
    form: Form,
    /// Bytes read but not yet handed on (the sniffed start, or a part of a wide unit).
    pending: Vec<u8>,
    /// Decoded UTF-8 not yet handed on.
    decoded: Vec<u8>,
    at: usize,
    done: bool,
}

/// How much of a wide stream is decoded at a time.
const WIDE_CHUNK: usize = 64 << 10;

impl<R: Read> TextReader<R> {
    /// Reads the first bytes of `inner` and decides how to read the rest.
    pub(crate) fn new(mut inner: R) -> std::io::Result<Result<TextReader<R>, NotText>> {
        let mut start = Vec::with_capacity(4);
        while start.len() < 4 {
            let mut byte = [0u8; 4];
            let n = inner.read(&mut byte[..4 - start.len()])?;
            if n == 0 {
                break;
            }
            start.extend_from_slice(&byte[..n]);
        }
        let form = match sniff(&start) {
            Ok(form) => form,
            Err(not_text) => return Ok(Err(not_text)),
        };
        start.drain(..form.mark().min(start.len()));
        Ok(Ok(TextReader {
            inner,
            form,
            pending: start,
            decoded: Vec::new(),
            at: 0,
            done: false,
        }))
    }

    /// Decodes the next chunk of a wide stream into `decoded`.
    fn fill_wide(&mut self, width: usize, little_endian: bool, name: &str) -> std::io::Result<()> {
        // One read a call: the caller calls again while nothing is decoded, so a high
        // surrogate held back below gets its pair.
        if !self.done {
            let mut buf = vec![0u8; WIDE_CHUNK];
            let n = self.inner.read(&mut buf)?;
            if n == 0 {
                self.done = true;
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
        let mut whole = self.pending.len() - self.pending.len() % width;
        // A UTF-16 high surrogate waits for its pair.
        if width == 2 && whole >= 2 && !self.done {
            let last = &self.pending[whole - 2..whole];
            let unit = if little_endian {
                u16::from_le_bytes([last[0], last[1]])
            } else {
                u16::from_be_bytes([last[0], last[1]])
            };
            if (0xD800..0xDC00).contains(&unit) {
                whole -= 2;
            }
        }
        if self.done && whole != self.pending.len() {
            return Err(bad_wide(name));
        }
        let text = decode_wide(&self.pending[..whole], width, little_endian)
            .ok_or_else(|| bad_wide(name))?;
        self.pending.drain(..whole);
        self.decoded = text.into_bytes();
        self.at = 0;
        Ok(())
    }
}

fn bad_wide(name: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("it starts with a {name} byte order mark but is not valid {name}"),
    )
}

impl<R: Read> Read for TextReader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        match self.form {
            Form::Utf8 { .. } => {
                if !self.pending.is_empty() {
                    let n = out.len().min(self.pending.len());
                    out[..n].copy_from_slice(&self.pending[..n]);
                    self.pending.drain(..n);
                    return Ok(n);
                }
                self.inner.read(out)
            }
            Form::Wide {
                width,
                little_endian,
                name,
            } => {
                while self.at == self.decoded.len() {
                    if self.done && self.pending.is_empty() {
                        return Ok(0);
                    }
                    self.fill_wide(width, little_endian, name)?;
                    if self.decoded.is_empty() && self.done && self.pending.is_empty() {
                        return Ok(0);
                    }
                }
                let n = out.len().min(self.decoded.len() - self.at);
                out[..n].copy_from_slice(&self.decoded[self.at..self.at + n]);
                self.at += n;
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `bytes` through a reader that hands over `step` bytes at a time.
    fn read_all(bytes: &[u8], step: usize) -> std::io::Result<Result<String, NotText>> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = out.len().min(self.1).min(self.0.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let reader = match TextReader::new(Trickle(bytes, step))? {
            Ok(reader) => reader,
            Err(not_text) => return Ok(Err(not_text)),
        };
        let mut text = String::new();
        let mut reader = reader;
        reader.read_to_string(&mut text)?;
        Ok(Ok(text))
    }

    const TEXT: &str = "CHAS,RM\n0,6.5\nÉ𝄞,x\n";

    #[test]
    fn every_form_streams_to_the_same_utf8_in_any_chunking() {
        let utf16le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(TEXT.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let utf16be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(TEXT.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        let utf32le: Vec<u8> = [0xFF, 0xFE, 0, 0]
            .into_iter()
            .chain(TEXT.chars().flat_map(|c| (c as u32).to_le_bytes()))
            .collect();
        let utf8_marked = [b"\xEF\xBB\xBF".as_slice(), TEXT.as_bytes()].concat();
        for body in [
            TEXT.as_bytes().to_vec(),
            utf8_marked,
            utf16le,
            utf16be,
            utf32le,
        ] {
            for step in [1, 2, 3, 5, 7, 4096] {
                assert_eq!(
                    read_all(&body, step).unwrap(),
                    Ok(TEXT.to_owned()),
                    "{step}"
                );
            }
        }
    }

    #[test]
    fn a_broken_wide_stream_is_an_error_not_replacement_characters() {
        // A lone high surrogate, then an odd byte at the end.
        let lone = [0xFF, 0xFE, 0x00, 0xD8, b'a', 0];
        assert!(read_all(&lone, 3).is_err());
        let odd = [0xFF, 0xFE, b'a', 0, b'b'];
        let e = read_all(&odd, 2).unwrap_err();
        assert!(e.to_string().contains("not valid UTF-16"), "{e}");
    }

    #[test]
    fn compressed_data_is_named_by_its_first_bytes() {
        let cases: [(&[u8], &str); 7] = [
            (&[0x1F, 0x8B, 0x08, 0x00], "gzip"),
            (&[0x28, 0xB5, 0x2F, 0xFD], "zstd"),
            (&[0xFD, b'7', b'z', b'X', b'Z', 0], "xz"),
            (b"BZh91AY&SY", "bzip2"),
            (&[0x78, 0x9C, 0x4B, 0x4C], "deflate"),
            (b"PK\x03\x04\x14\x00", "zip"),
            (&[b'7', b'z', 0xBC, 0xAF, 0x27, 0x1C], "7z"),
        ];
        for (start, format) in cases {
            assert_eq!(sniff(start), Err(NotText::Compressed(format)));
            assert_eq!(
                read_all(start, 1).unwrap(),
                Err(NotText::Compressed(format))
            );
        }
        // Text that merely starts alike is text.
        for text in ["BZh,CHAS", "x^", "PK,", "{\"a\":1}", "", "a"] {
            assert_eq!(sniff(text.as_bytes()), Ok(Form::Utf8 { mark: 0 }), "{text}");
        }
        assert_eq!(sniff(b"C\0H\0"), Err(NotText::WideWithoutMark));
    }
}
