//! Queue message encoding per host.json `extensions.queues.messageEncoding`.
//!
//! With the default `base64`, the Functions host base64-decodes every message it reads and
//! rejects plain text ("not a valid Base-64 string"), so every producer must encode the same way.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::str::FromStr;

/// How message text is put on the wire (host.json `messageEncoding`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MessageEncoding {
    /// Standard base64 with padding: the Functions default.
    #[default]
    Base64,
    /// The text as is (`"messageEncoding": "none"`).
    None,
}

impl FromStr for MessageEncoding {
    type Err = String;

    /// Parses host.json's value, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "base64" => Ok(MessageEncoding::Base64),
            "none" => Ok(MessageEncoding::None),
            other => Err(format!(
                "messageEncoding must be \"base64\" or \"none\", not \"{other}\""
            )),
        }
    }
}

/// A received message does not decode under the configured encoding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    /// Not base64 (for example plain text put by a client that did not encode).
    #[error("the queue message is not valid base64 (messageEncoding is base64)")]
    NotBase64,
    /// Base64 that decodes to bytes that are not UTF-8 text.
    #[error("the queue message decodes to bytes that are not UTF-8 text")]
    NotUtf8,
}

/// Encodes message text for the wire.
pub fn encode_message(text: &str, encoding: MessageEncoding) -> String {
    match encoding {
        MessageEncoding::Base64 => STANDARD.encode(text.as_bytes()),
        MessageEncoding::None => text.to_owned(),
    }
}

/// Decodes a message as received into its bytes.
pub fn decode_message_bytes(
    wire: &str,
    encoding: MessageEncoding,
) -> Result<Vec<u8>, EncodingError> {
    match encoding {
        MessageEncoding::Base64 => STANDARD
            .decode(wire.trim())
            .map_err(|_| EncodingError::NotBase64),
        MessageEncoding::None => Ok(wire.as_bytes().to_vec()),
    }
}

/// Decodes a message as received into text.
pub fn decode_message(wire: &str, encoding: MessageEncoding) -> Result<String, EncodingError> {
    String::from_utf8(decode_message_bytes(wire, encoding)?).map_err(|_| EncodingError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_unicode_json() {
        let text = r#"{"jobId":"a1","note":"café ✓"}"#;
        let wire = encode_message(text, MessageEncoding::Base64);
        assert_eq!(wire, STANDARD.encode(text));
        assert_eq!(
            decode_message(&wire, MessageEncoding::Base64).unwrap(),
            text
        );
    }

    #[test]
    fn base64_uses_the_standard_padded_alphabet_like_dotnet() {
        // Convert.ToBase64String(Encoding.UTF8.GetBytes("hello?>")) == "aGVsbG8/Pg=="
        assert_eq!(
            encode_message("hello?>", MessageEncoding::Base64),
            "aGVsbG8/Pg=="
        );
    }

    #[test]
    fn none_passes_text_through() {
        assert_eq!(encode_message("<a&b>", MessageEncoding::None), "<a&b>");
        assert_eq!(
            decode_message("<a&b>", MessageEncoding::None).unwrap(),
            "<a&b>"
        );
    }

    #[test]
    fn plain_text_under_base64_is_rejected() {
        assert_eq!(
            decode_message("hello world", MessageEncoding::Base64),
            Err(EncodingError::NotBase64)
        );
        assert_eq!(
            decode_message(&STANDARD.encode([0xff, 0xfe]), MessageEncoding::Base64),
            Err(EncodingError::NotUtf8)
        );
        assert_eq!(
            decode_message_bytes(&STANDARD.encode([0xff]), MessageEncoding::Base64).unwrap(),
            vec![0xff]
        );
    }

    #[test]
    fn host_json_values_parse() {
        assert_eq!("Base64".parse(), Ok(MessageEncoding::Base64));
        assert_eq!(" none ".parse(), Ok(MessageEncoding::None));
        assert_eq!(
            "utf8".parse::<MessageEncoding>().unwrap_err(),
            "messageEncoding must be \"base64\" or \"none\", not \"utf8\""
        );
        assert_eq!(MessageEncoding::default(), MessageEncoding::Base64);
    }
}
