//! A quicker reader of the invocation body into a `serde_json::Value`.
//!
//! An HTTP trigger's body arrives as one JSON string inside the invocation (`Body`, the text
//! `GetRequestAsJObject` reads with `ReadAsStringAsync` in azure-functions-host's
//! `src/WebJobs.Script/Extensions/HttpRequestExtensions.cs`; the shared fixture
//! `conformance/requests/http_trigger_with_body.json` pins it), with every quote of a JSON
//! body escaped: a 10,000-row pandas batch is a megabyte with 120,000 escapes, and
//! `serde_json` takes 1.5 ms over them. This reads the same grammar with a tighter string loop.
//!
//! It answers `Some` only with exactly the `Value` `serde_json::from_slice` gives: the same
//! maps built by the same inserts, numbers converted by `serde_json` itself. Anything it does
//! not take on (a `\u` escape, a control character or invalid UTF-8 in a string, deep nesting,
//! any syntax error) is `None`, and `serde_json` reads the body again, with its own errors.

use serde_json::{Map, Value};

/// A string this long may be a body: [`Reader::string`] then reserves room for the rest of
/// the input, and gives back what the string did not use once it ends (a long header that
/// comes before the body must not keep a buffer the body's size).
const LONG_STRING: usize = 4096;

/// `s`, holding no more than it needs when [`Reader::string`] reserved for the whole rest.
fn fitted(mut s: String, reserved: bool) -> String {
    if reserved {
        s.shrink_to_fit();
    }
    s
}

/// Deeper than this goes to `serde_json`, which has its own recursion limit (128).
const MAX_DEPTH: usize = 100;

/// The body as `serde_json::from_slice::<Value>` reads it, or `None` (see the module docs).
pub(super) fn parse(body: &[u8]) -> Option<Value> {
    let mut r = Reader { b: body, i: 0 };
    let value = r.value(0)?;
    r.ws();
    (r.i == body.len()).then_some(value)
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn next(&mut self) -> Option<u8> {
        self.ws();
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(c)
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        Some(match self.next()? {
            b'{' => {
                let mut map = Map::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Some(Value::Object(map));
                }
                loop {
                    if self.next()? != b'"' {
                        return None;
                    }
                    let key = self.string()?;
                    if self.next()? != b':' {
                        return None;
                    }
                    let value = self.value(depth + 1)?;
                    map.insert(key, value);
                    match self.next()? {
                        b',' => {}
                        b'}' => break Value::Object(map),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Some(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    match self.next()? {
                        b',' => {}
                        b']' => break Value::Array(items),
                        _ => return None,
                    }
                }
            }
            b'"' => Value::String(self.string()?),
            b't' => self.literal(b"rue", Value::Bool(true))?,
            b'f' => self.literal(b"alse", Value::Bool(false))?,
            b'n' => self.literal(b"ull", Value::Null)?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return None,
        })
    }

    fn literal(&mut self, rest: &[u8], value: Value) -> Option<Value> {
        let end = self.i + rest.len();
        (self.b.get(self.i..end)? == rest).then(|| {
            self.i = end;
            value
        })
    }

    /// A number's text by JSON's grammar, converted by `serde_json` (so `float_roundtrip` and
    /// every integer rule are its own).
    fn number(&mut self) -> Option<Value> {
        let start = self.i - 1;
        let digits = |r: &mut Self| {
            let from = r.i;
            while r.b.get(r.i).is_some_and(u8::is_ascii_digit) {
                r.i += 1;
            }
            r.i > from
        };
        if self.b[start] == b'-' && !digits(self) {
            return None;
        }
        digits(self);
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !digits(self) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        serde_json::from_slice(&self.b[start..self.i]).ok()
    }

    /// The rest of a string after its opening quote, unescaped. Runs of plain bytes are copied
    /// whole; only the two-character escapes are taken (`\u` goes to `serde_json`).
    fn string(&mut self) -> Option<String> {
        let mut out = Vec::new();
        let mut reserved = false;
        let dense = dense_escapes_supported();
        loop {
            if self.b.len() - self.i >= 32 {
                if !reserved && out.len() >= LONG_STRING {
                    // A body: one buffer for all of it, instead of a dozen doublings that
                    // leave a megabyte of freed pages behind for the allocator to hand back
                    // to the kernel and fault in again on the next invocation. Unescaping
                    // never lengthens, so what is left of the input bounds what is left to
                    // write; 32 more for the sixteen bytes a chunk writes before it cuts back.
                    out.reserve_exact(self.b.len() - self.i + 32);
                    reserved = true;
                }
                // Sixteen bytes at a time: at once when only quotes, backslashes and slashes
                // are escaped and the string does not end there; otherwise every escape
                // taken from one search.
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `dense` is true only on a CPU with SSSE3.
                if dense && unsafe { self.dense_chunk(&mut out) } {
                    continue;
                }
                if let Some(end) = self.chunk(&mut out)? {
                    return Some(fitted(end, reserved));
                }
                continue;
            }
            let rest = self.b.get(self.i..)?;
            let run = rest.iter().position(|&c| ends_run(c))?;
            out.extend_from_slice(&rest[..run]);
            self.i += run;
            let c = self.b[self.i];
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).ok().map(|s| fitted(s, reserved)),
                b'\\' => {
                    let c = *self.b.get(self.i)?;
                    self.i += 1;
                    out.push(unescape(c)?);
                }
                // A raw control character, which JSON forbids in a string.
                _ => return None,
            }
        }
    }

    /// Reads the sixteen bytes at `i` into `out` (the caller leaves 32 in the body): every
    /// run is copied as a whole sixteen bytes and cut back, every two-character escape
    /// unescaped, with no new search between them. An escaped body has an escape every few
    /// bytes, so this is a store a run instead of a call to copy a few bytes and a search
    /// that waits on the last. `Some(Some(..))` at the closing quote, `Some(None)` to go on,
    /// `None` for what this reader leaves to `serde_json`.
    fn chunk(&mut self, out: &mut Vec<u8>) -> Option<Option<String>> {
        let base = self.i;
        let chunk: &[u8; 16] = self.b.get(base..base + 16)?.try_into().ok()?;
        let mut ends = run_ends(chunk);
        let mut from = 0;
        while ends != 0 {
            let k = ends.trailing_zeros() as usize;
            ends &= ends - 1;
            let run: &[u8; 16] = self.b.get(base + from..base + from + 16)?.try_into().ok()?;
            out.extend_from_slice(run);
            out.truncate(out.len() - 16 + (k - from));
            match chunk[k] {
                b'"' => {
                    self.i = base + k + 1;
                    return String::from_utf8(std::mem::take(out)).ok().map(Some);
                }
                b'\\' => {
                    // The escaped byte may be in this chunk (then it is no end of a run) or
                    // the first of the next (the caller left it in the body).
                    let c = self.b[base + k + 1];
                    out.push(unescape(c)?);
                    if k + 1 < 16 {
                        ends &= !(1 << (k + 1));
                    }
                    from = k + 2;
                }
                _ => return None,
            }
        }
        if from < 16 {
            let run: &[u8; 16] = self.b.get(base + from..base + from + 16)?.try_into().ok()?;
            out.extend_from_slice(run);
            out.truncate(out.len() - from);
        }
        self.i = base + 16.max(from);
        Some(None)
    }
}

impl Reader<'_> {
    /// Reads the sixteen bytes at `i` into `out` (the caller leaves 32 in the body) when the
    /// only escapes in them are `\"`, `\\` and `\/` and the string does not end there, and
    /// says whether it did. Those escapes stand for the byte after the backslash, so
    /// unescaping is dropping the backslashes that begin one: a byte shuffle per half chunk.
    /// An escaped JSON body (an escape every few bytes) is read at the speed of a copy;
    /// [`Reader::chunk`] reads any other chunk.
    ///
    /// # Safety
    /// The CPU must have SSSE3.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "ssse3")]
    unsafe fn dense_chunk(&mut self, out: &mut Vec<u8>) -> bool {
        use std::arch::x86_64::*;
        let base = self.i;
        let Some(bytes) = self.b.get(base..base + 17) else {
            return false;
        };
        // SAFETY: `bytes` holds at least 16 bytes; the load is unaligned.
        let v = unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) };
        let mask = |c: u8| _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))) as u32;
        let (quote, backslash, slash) = (mask(b'"'), mask(b'\\'), mask(b'/'));
        // Below 0x20, unsigned: the smaller of it and 0x1f is itself.
        let control = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v));
        let escaped = escaped_bytes(backslash);
        let simple = |c: u8| matches!(c, b'"' | b'\\' | b'/');
        if control != 0
            || quote & !escaped != 0
            || escaped & 0xffff & !(quote | backslash | slash) != 0
            || (escaped >> 16 != 0 && !simple(bytes[16]))
        {
            return false;
        }
        let keep = !(escaped >> 1) & 0xffff;
        // SAFETY: SSSE3 is enabled; each table row is 16 bytes.
        let (low, high) = unsafe {
            let low = _mm_loadu_si128(KEEP[(keep & 0xff) as usize].as_ptr().cast());
            let high = _mm_loadu_si128(KEEP[(keep >> 8) as usize].as_ptr().cast());
            (
                _mm_shuffle_epi8(v, low),
                _mm_shuffle_epi8(_mm_srli_si128::<8>(v), high),
            )
        };
        for (half, bits) in [(low, keep & 0xff), (high, keep >> 8)] {
            let kept = _mm_cvtsi128_si64(half).to_le_bytes();
            out.extend_from_slice(&kept);
            out.truncate(out.len() - 8 + bits.count_ones() as usize);
        }
        if escaped >> 16 != 0 {
            // The escape's second byte is the next chunk's first.
            out.push(bytes[16]);
            self.i = base + 17;
        } else {
            self.i = base + 16;
        }
        true
    }
}

/// Whether [`Reader::dense_chunk`] runs here (std caches the answer).
#[inline]
fn dense_escapes_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("ssse3")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// For each byte `k` (bit `k`, up to bit 16 for the byte after the chunk), whether it is
/// escaped: preceded by an odd run of backslashes. The chunk's first byte never is (a chunk
/// starts after a whole escape). simdjson's carry trick: adding each run's odd start to the
/// backslashes carries through the run and leaves the parity of its length at its end.
#[inline]
fn escaped_bytes(backslash: u32) -> u32 {
    const EVEN: u32 = 0x5555_5555;
    let follows = backslash << 1;
    let odd_starts = backslash & !EVEN & !follows;
    let even_ends = odd_starts.wrapping_add(backslash) << 1;
    (EVEN ^ even_ends) & follows
}

/// [`escaped_bytes`] a byte at a time: what it is tested against.
#[cfg(test)]
fn escaped_bytes_one_by_one(backslash: u32) -> u32 {
    let mut escaped = 0;
    let mut k = 0;
    while k < 16 {
        if backslash & (1 << k) != 0 {
            escaped |= 1 << (k + 1);
            k += 2;
        } else {
            k += 1;
        }
    }
    escaped
}

/// For each 8-bit mask, the byte shuffle that packs the bytes it keeps to the front.
#[cfg(target_arch = "x86_64")]
static KEEP: [[u8; 16]; 256] = {
    let mut table = [[0x80u8; 16]; 256];
    let mut m = 0;
    while m < 256 {
        let (mut k, mut n) = (0, 0);
        while k < 8 {
            if m & (1 << k) != 0 {
                table[m][n] = k as u8;
                n += 1;
            }
            k += 1;
        }
        m += 1;
    }
    table
};

/// The byte a two-character escape stands for (`\u` is left to `serde_json`).
#[inline]
fn unescape(c: u8) -> Option<u8> {
    Some(match c {
        b'"' => b'"',
        b'\\' => b'\\',
        b'/' => b'/',
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        _ => return None,
    })
}

/// Whether `c` ends a run of plain string bytes: a quote, a backslash or a control character.
#[inline]
fn ends_run(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// The bytes of `chunk` that end a run, as bits (bit `k` for byte `k`).
#[inline]
fn run_ends(chunk: &[u8; 16]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of x86-64, so every x86-64 CPU runs these; `chunk` is 16
        // bytes, and the load is unaligned.
        unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // Below 0x20, unsigned: the smaller of it and 0x1f is itself.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    run_ends_one_by_one(chunk)
}

/// [`run_ends`] a byte at a time: the build for other CPUs, and what the vector one is
/// tested against.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn run_ends_one_by_one(chunk: &[u8; 16]) -> u32 {
    chunk
        .iter()
        .enumerate()
        .fold(0, |m, (k, &c)| m | (u32::from(ends_run(c)) << k))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both readers give the same value, or this one gives none.
    fn check(body: &[u8]) -> bool {
        let fast = parse(body);
        let serde = serde_json::from_slice::<Value>(body).ok();
        if let Some(fast) = &fast {
            assert_eq!(
                Some(fast),
                serde.as_ref(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        fast.is_some()
    }

    #[test]
    fn escapes_anywhere_in_and_across_sixteen_byte_chunks_read_the_same() {
        let escapes: [&[u8]; 9] = [
            br#"\""#, br"\\", br"\/", br"\n", br"\t", br"\u0041", br"\x", b"\x01", b"\xff",
        ];
        for len in 0..70 {
            for at in 0..=len {
                for e in escapes {
                    for pair in [false, true] {
                        let mut text: Vec<u8> = (0..len).map(|k| b'a' + (k % 26) as u8).collect();
                        text.splice(at..at, e.iter().copied());
                        if pair {
                            // Two escapes side by side.
                            text.splice(at..at, e.iter().copied());
                        }
                        let mut body = br#"{"Data":{"req":{"Body":""#.to_vec();
                        body.extend_from_slice(&text);
                        body.extend_from_slice(br#""}},"Metadata":{}}"#);
                        // The two-character escapes take the quick road; the rest may not.
                        let quick = check(&body);
                        if matches!(e, br#"\""# | br"\\" | br"\/" | br"\n" | br"\t") {
                            assert!(quick, "{}", String::from_utf8_lossy(&body));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn escaped_bytes_are_found_as_a_byte_loop_finds_them_for_every_run_of_backslashes() {
        for backslash in 0..=0xffffu32 {
            assert_eq!(
                escaped_bytes(backslash),
                escaped_bytes_one_by_one(backslash),
                "{backslash:016b}"
            );
        }
    }

    #[test]
    fn dense_escapes_read_the_same_wherever_they_fall_in_and_across_chunks() {
        // Runs of backslashes of every length before every kind of byte, at every offset.
        let tails: [&[u8]; 7] = [br#"""#, br"/", br"n", br"u0041", b"a", b"\x01", br#"a\""#];
        for run in 0..6 {
            for tail in tails {
                for at in 0..40 {
                    let mut text: Vec<u8> = (0..48).map(|k| b'a' + (k % 26) as u8).collect();
                    let mut escape = vec![b'\\'; run];
                    escape.extend_from_slice(tail);
                    text.splice(at..at, escape);
                    let mut body = br#"{"Data":{"req":{"Body":""#.to_vec();
                    body.extend_from_slice(&text);
                    body.extend_from_slice(br#""}},"Metadata":{}}"#);
                    check(&body);
                }
            }
        }
        // A pandas batch escaped the way the host sends it, and the same with a `\n` in it.
        let pandas: String = (0..3000)
            .map(|i| format!("\"{i}\":{}.{},", i % 9, i % 7))
            .collect();
        for text in [
            format!("{{\"RM\":{{{pandas}}}}}"),
            format!("{pandas}\n{pandas}"),
        ] {
            let body = serde_json::json!({"Data": {"req": {"Body": text}}});
            assert!(check(body.to_string().as_bytes()));
        }
    }

    #[test]
    fn the_vector_run_search_finds_what_a_byte_loop_finds() {
        // Every byte value in every position, and some mixed chunks.
        for c in 0..=255u8 {
            for k in 0..16 {
                let mut chunk = [b'a'; 16];
                chunk[k] = c;
                assert_eq!(run_ends(&chunk), run_ends_one_by_one(&chunk), "{c} at {k}");
            }
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..10_000 {
            let mut chunk = [0u8; 16];
            for b in &mut chunk {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            assert_eq!(run_ends(&chunk), run_ends_one_by_one(&chunk), "{chunk:?}");
        }
    }

    #[test]
    fn the_shared_invocation_fixtures_read_the_same_and_take_the_quick_road() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/requests");
        let mut read = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let body = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(check(&body));
            read += 1;
        }
        assert!(read >= 10);
    }

    #[test]
    fn a_batch_inside_an_http_body_reads_the_same() {
        let batch: String = (0..2000)
            .map(|i| format!("\"{i}\":{}.{}", i % 9, i % 7))
            .collect::<Vec<_>>()
            .join(",");
        let data = serde_json::json!({
            "req": {"Url": "http://localhost/api/predict", "Method": "POST",
                "Body": format!("{{\"RM\":{{{batch}}}}}\n\t\"é\" \\ / 😀"),
                "Headers": {"Content-Type": ["application/json"]}}
        });
        let numbers = "[1,-0,0.1,1e300,-1.5e-7,18446744073709551616,-9223372036854775808,\
                       123456789012345678901234567890,2.5E+3,0.30000000000000004,true,false,null]";
        let text = format!(r#"{{"Data":{data},"Metadata":{{"n":{numbers},"d":1,"d":[]}}}}"#);
        assert!(check(text.as_bytes()));
        let body: Value = serde_json::from_str(&text).unwrap();
        assert!(check(&serde_json::to_vec_pretty(&body).unwrap()));
    }

    #[test]
    fn a_long_string_keeps_no_more_room_than_it_needs() {
        // A 5 KiB cookie before a 200 KiB body: each reserves for the whole rest of the
        // input while it is read, and gives it back when it ends.
        let cookie = "c".repeat(5000);
        let body = "b".repeat(200_000);
        let text = format!(
            r#"{{"Data":{{"req":{{"Headers":{{"Cookie":["{cookie}"]}},"Body":"{body}"}}}}}}"#
        );
        let value = parse(text.as_bytes()).unwrap();
        let Value::String(read) = &value["Data"]["req"]["Headers"]["Cookie"][0] else {
            panic!("{value}")
        };
        assert_eq!(read, &cookie);
        assert!(read.capacity() < cookie.len() + 64, "{}", read.capacity());
        let Value::String(read) = &value["Data"]["req"]["Body"] else {
            panic!("no body")
        };
        assert_eq!(read, &body);
        assert!(read.capacity() < body.len() + 64, "{}", read.capacity());
    }

    #[test]
    fn what_only_serde_json_can_answer_goes_its_way() {
        for body in [
            &br#""\u00e9""#[..],
            b"\"a\x01b\"",
            b"\"\xff\"",
            b"[1,]",
            b"{\"a\":1,}",
            b"01",
            b"1.",
            b"-",
            b"tru",
            b"{} x",
            b"",
            b"\"\\x\"",
        ] {
            assert!(!check(body), "{}", String::from_utf8_lossy(body));
        }
        let deep = format!("{}{}", "[".repeat(120), "]".repeat(120));
        assert!(!check(deep.as_bytes()));
        let fine = format!("{}{}", "[".repeat(90), "]".repeat(90));
        assert!(check(fine.as_bytes()));
    }

    #[test]
    fn mutated_invocations_never_read_to_another_value() {
        // A small deterministic fuzzer over a real invocation, bytes replaced, deleted or
        // doubled: wherever this reader answers, serde_json gives the same value.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/requests");
        let seed_body =
            std::fs::read(format!("{dir}/http_trigger_with_body.json")).expect("the fixture");
        let alphabet = b"{}[]\",:\\/ntrbfue0123456789.-+E \t\r\n\x01\xc3\xa9";
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut quick = 0;
        for _ in 0..5_000 {
            let mut body = seed_body.clone();
            for _ in 0..=next(3) {
                let at = next(body.len());
                match next(3) {
                    0 => body[at] = alphabet[next(alphabet.len())],
                    1 => {
                        body.remove(at);
                    }
                    _ => body.insert(at, body[at]),
                }
            }
            if check(&body) {
                quick += 1;
            }
        }
        assert!((500..4_900).contains(&quick), "{quick} quick answers");
    }
}
