//! What ASP.NET Core and the host do to a request before any function sees it: Kestrel's
//! path normalisation, and the text the host makes of a body.

/// A request path Kestrel refuses outright (with a 400, before routing).
#[derive(Debug, PartialEq, Eq)]
pub struct NullInPath;

/// The path as routing sees it, from the raw request target's path (dotnet/aspnetcore
/// `src/Servers/Kestrel/Core/src/Internal/Http/PathNormalizer.cs`, `DecodePath`, and
/// `src/Shared/UrlDecoder/UrlDecoder.cs`): every `%XX` is decoded but `%2F`, which stays as
/// written so it cannot split a segment; an escape that is malformed or not UTF-8 is kept
/// as written; `%00` is refused; then dot segments are removed, after decoding, so
/// `/api/jobs/%2e%2e` is `/api/`. Routing decodes nothing more: a route value can hold
/// `..%2Fx`, never `../x`.
pub fn kestrel_path(raw: &str) -> Result<String, NullInPath> {
    let bytes = raw.as_bytes();
    let hex = |i: usize| -> Option<u8> {
        let pair = bytes.get(i + 1..i + 3)?;
        u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()
    };
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let Some(first) = (bytes[i] == b'%').then(|| hex(i)).flatten() else {
            let c = raw[i..].chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8().max(1);
            continue;
        };
        if first == 0 {
            return Err(NullInPath);
        }
        if first == b'/' {
            out.push_str(&raw[i..i + 3]);
            i += 3;
            continue;
        }
        // One character: the lead escape and as many continuation escapes as it needs.
        let width = match first {
            0x00..=0x7F => 1,
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 0,
        };
        let escapes: Option<Vec<u8>> = (0..width)
            .map(|k| hex(i + 3 * k).filter(|_| bytes.get(i + 3 * k) == Some(&b'%')))
            .collect();
        match escapes.as_deref().map(std::str::from_utf8) {
            Some(Ok(text)) if width > 0 => {
                out.push_str(text);
                i += 3 * width;
            }
            _ => {
                out.push_str(&raw[i..i + 3]);
                i += 3;
            }
        }
    }
    Ok(remove_dot_segments(&out))
}

/// RFC 3986, section 5.2.4, on an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing_slash = path.ends_with('/');
    for (n, segment) in segments.iter().enumerate() {
        match *segment {
            "." => trailing_slash |= n == last,
            ".." => {
                kept.pop();
                trailing_slash |= n == last;
            }
            s => kept.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(&kept.join("/"));
    if trailing_slash && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// The text the host makes of a request body it does not send as bytes:
/// `ReadAsStringAsync` (azure-webjobs-sdk-extensions
/// `src/WebJobs.Extensions.Http/Extensions/HttpRequestExtensions.cs`), a `StreamReader` with
/// `Encoding.UTF8` and `detectEncodingFromByteOrderMarks: true`, called from
/// `GetRequestAsJObject` (azure-functions-host `src/WebJobs.Script/Extensions/HttpRequestExtensions.cs`).
/// A byte order mark picks UTF-8, UTF-16 or UTF-32 and is dropped; without one the bytes are
/// UTF-8, each invalid sequence becoming U+FFFD. The `charset` of Content-Type is not read.
pub fn stream_reader_text(body: &[u8]) -> String {
    let units16 = |rest: &[u8], le: bool| -> String {
        let units = rest.chunks(2).map(|p| match (p, le) {
            ([a, b], true) => u16::from_le_bytes([*a, *b]),
            ([a, b], false) => u16::from_be_bytes([*a, *b]),
            _ => 0xFFFD,
        });
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    };
    let units32 = |rest: &[u8], le: bool| -> String {
        rest.chunks(4)
            .map(|p| {
                let word = match (<[u8; 4]>::try_from(p), le) {
                    (Ok(w), true) => u32::from_le_bytes(w),
                    (Ok(w), false) => u32::from_be_bytes(w),
                    _ => 0xFFFD,
                };
                char::from_u32(word).unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect()
    };
    match body {
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        [0xFF, 0xFE, 0, 0, rest @ ..] => units32(rest, true),
        [0, 0, 0xFE, 0xFF, rest @ ..] => units32(rest, false),
        [0xFF, 0xFE, rest @ ..] => units16(rest, true),
        [0xFE, 0xFF, rest @ ..] => units16(rest, false),
        _ => String::from_utf8_lossy(body).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dotnet/aspnetcore `src/Servers/Kestrel/Core/src/Internal/Http/PathNormalizer.cs`
    /// (`DecodePath`, `RemoveDotSegments`) and `src/Shared/UrlDecoder/UrlDecoder.cs`.
    #[test]
    fn kestrel_decodes_all_but_slashes_then_removes_dot_segments() {
        assert_eq!(kestrel_path("/api/jobs/%2e%2e").unwrap(), "/api/");
        assert_eq!(
            kestrel_path("/api/jobs/..%2Fx").unwrap(),
            "/api/jobs/..%2Fx"
        );
        assert_eq!(kestrel_path("/api/jobs/../health").unwrap(), "/api/health");
        assert_eq!(kestrel_path("/api/a%20b/%C3%A9").unwrap(), "/api/a b/é");
        assert_eq!(kestrel_path("/api/./x/").unwrap(), "/api/x/");
        assert_eq!(kestrel_path("/api/x/.").unwrap(), "/api/x/");
        assert_eq!(kestrel_path("/api/predict").unwrap(), "/api/predict");
        // Escapes that are not UTF-8, or not escapes at all, stay as written.
        assert_eq!(
            kestrel_path("/api/%ff/%zz/%C3").unwrap(),
            "/api/%ff/%zz/%C3"
        );
        assert_eq!(kestrel_path("/api/jobs/x%00").unwrap_err(), NullInPath);
    }

    /// azure-webjobs-sdk-extensions `src/WebJobs.Extensions.Http/Extensions/HttpRequestExtensions.cs`
    /// (`ReadAsStringAsync`), called by azure-functions-host
    /// `src/WebJobs.Script/Extensions/HttpRequestExtensions.cs` (`GetRequestAsJObject`).
    #[test]
    fn the_host_reads_bodies_as_a_stream_reader_does() {
        let text = "{\"a\":\"é\"}";
        assert_eq!(stream_reader_text(text.as_bytes()), text);
        assert_eq!(
            stream_reader_text(&[b"\xEF\xBB\xBF", text.as_bytes()].concat()),
            text
        );
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(stream_reader_text(&le), text);
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(stream_reader_text(&be), text);
        let le32: Vec<u8> = [0xFF, 0xFE, 0, 0]
            .into_iter()
            .chain(text.chars().flat_map(|c| (c as u32).to_le_bytes()))
            .collect();
        assert_eq!(stream_reader_text(&le32), text);
        // Without a byte order mark UTF-16 is read as UTF-8: NULs and all.
        assert_eq!(stream_reader_text(b"{\0"), "{\0");
        assert_eq!(stream_reader_text(b"a\xFFb"), "a\u{FFFD}b");
    }
}
