//! Account shared access signatures: how a connection string's account key becomes
//! something the official storage crates accept (they take a SAS in the URL, not a key).
//!
//! Algorithm: <https://learn.microsoft.com/rest/api/storageservices/create-account-sas>
//! (string-to-sign for signed versions 2020-12-06 and later, which ends with the encryption
//! scope and a trailing newline).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use time::{OffsetDateTime, UtcOffset};

/// The storage REST version this crate signs with and sends as `x-ms-version`.
///
/// Pinned to the newest version Azurite 3.35.0 accepts (its `ValidAPIVersions`), so Azurite
/// runs without `--skipApiVersionCheck`; Azure accepts it too.
pub const STORAGE_SERVICE_VERSION: &str = "2025-11-05";

/// A decoded storage account key. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountKey(Vec<u8>);

/// The account key text is not base64.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the account key is not valid base64")]
pub struct InvalidAccountKey;

impl AccountKey {
    /// Decodes the base64 key as shown in the portal and in connection strings.
    pub fn from_base64(key: &str) -> Result<Self, InvalidAccountKey> {
        let bytes = STANDARD.decode(key.trim()).map_err(|_| InvalidAccountKey)?;
        if bytes.is_empty() {
            return Err(InvalidAccountKey);
        }
        Ok(AccountKey(bytes))
    }

    /// HMAC-SHA256 of `text` under this key, base64-encoded (the SAS `sig`).
    pub fn sign(&self, text: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(text.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountKey(<redacted>)")
    }
}

/// A SAS query string (no leading `?`), appended to every request. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SasToken(String);

impl SasToken {
    /// Accepts a SAS as copied from the portal, with or without the leading `?`.
    /// The error is a phrase to follow the setting name.
    pub fn parse(token: &str) -> Result<Self, String> {
        let token = token.trim().trim_start_matches('?');
        if !token.split('&').any(|pair| pair.starts_with("sig=")) {
            return Err("has a SharedAccessSignature without sig=".to_owned());
        }
        Ok(SasToken(token.to_owned()))
    }

    /// The query string, already percent-encoded.
    pub fn as_query(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SasToken(<redacted>)")
    }
}

/// Which protocols a SAS allows (`spr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SasProtocol {
    /// `https` only.
    Https,
    /// `https,http`: needed for Azurite, which serves plain http.
    HttpsAndHttp,
}

impl SasProtocol {
    fn as_str(self) -> &'static str {
        match self {
            SasProtocol::Https => "https",
            SasProtocol::HttpsAndHttp => "https,http",
        }
    }
}

/// The fields of an account SAS. Build one with [`AccountSas::blobs_and_queues`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountSas {
    /// `ss`: services, e.g. `bq` (blob, queue).
    pub services: String,
    /// `srt`: resource types, e.g. `sco` (service, container/queue, object/message).
    pub resource_types: String,
    /// `sp`: permissions in the documented order, e.g. `racwdlup`.
    pub permissions: String,
    /// `st`: not valid before (absent means "now").
    pub start: Option<OffsetDateTime>,
    /// `se`: not valid after.
    pub expiry: OffsetDateTime,
    /// `spr`: allowed protocols.
    pub protocol: SasProtocol,
    /// `sv`: the signed version.
    pub version: String,
}

impl AccountSas {
    /// Everything this crate does: blob and queue services, all resource types,
    /// read/add/create/write/delete/list/update/process.
    pub fn blobs_and_queues(
        start: Option<OffsetDateTime>,
        expiry: OffsetDateTime,
        protocol: SasProtocol,
    ) -> Self {
        AccountSas {
            services: "bq".to_owned(),
            resource_types: "sco".to_owned(),
            permissions: "racwdlup".to_owned(),
            start,
            expiry,
            protocol,
            version: STORAGE_SERVICE_VERSION.to_owned(),
        }
    }

    /// The string the service recomputes and signs (version 2020-12-06 and later layout;
    /// no IP range and no encryption scope).
    pub fn string_to_sign(&self, account: &str) -> String {
        let start = self.start.map(sas_time).unwrap_or_default();
        [
            account,
            &self.permissions,
            &self.services,
            &self.resource_types,
            &start,
            &sas_time(self.expiry),
            "", // signed IP
            self.protocol.as_str(),
            &self.version,
            "", // signed encryption scope
            "", // the string ends with a newline
        ]
        .join("\n")
    }

    /// The query string (no leading `?`), percent-encoded, with `sig` last.
    pub fn to_query(&self, account: &str, key: &AccountKey) -> String {
        let sig = key.sign(&self.string_to_sign(account));
        let mut pairs = vec![
            ("sv", self.version.clone()),
            ("ss", self.services.clone()),
            ("srt", self.resource_types.clone()),
            ("sp", self.permissions.clone()),
        ];
        if let Some(start) = self.start {
            pairs.push(("st", sas_time(start)));
        }
        pairs.push(("se", sas_time(self.expiry)));
        pairs.push(("spr", self.protocol.as_str().to_owned()));
        pairs.push(("sig", sig));
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// ISO 8601 in UTC truncated to seconds (`2025-01-02T03:04:05Z`), as SAS times must be.
fn sas_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so `+`, `/`, `=` in a
/// signature and `:` in times survive any query parser).
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::DEV_ACCOUNT_KEY;
    use time::macros::datetime;

    fn vector_sas() -> AccountSas {
        AccountSas::blobs_and_queues(
            Some(datetime!(2025-01-01 00:00:00 UTC)),
            datetime!(2025-01-02 00:00:00 UTC),
            SasProtocol::HttpsAndHttp,
        )
    }

    #[test]
    fn string_to_sign_follows_the_documented_layout() {
        assert_eq!(
            vector_sas().string_to_sign("devstoreaccount1"),
            "devstoreaccount1\nracwdlup\nbq\nsco\n2025-01-01T00:00:00Z\n2025-01-02T00:00:00Z\n\nhttps,http\n2025-11-05\n\n"
        );
    }

    // Expected signature computed independently by Azurite 3.35.0's own validator code
    // (dist/src/common/authentication/IAccountSASSignatureValues.js,
    // generateAccountSASSignature) for the same fields and the well-known dev key.
    #[test]
    fn signature_matches_azurites_computation() {
        let key = AccountKey::from_base64(DEV_ACCOUNT_KEY).unwrap();
        let sas = vector_sas();
        assert_eq!(
            key.sign(&sas.string_to_sign("devstoreaccount1")),
            "UfYGfzLgiMFFztHeAXLoosRzZHL1xQYkieBQTjU4Irc="
        );
    }

    // RFC 4231 test case 2: HMAC-SHA256 with key "Jefe".
    #[test]
    fn hmac_is_rfc_4231_hmac_sha256() {
        let key = AccountKey::from_base64(&STANDARD.encode("Jefe")).unwrap();
        let sig = STANDARD
            .decode(key.sign("what do ya want for nothing?"))
            .unwrap();
        let hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn query_is_percent_encoded_with_sig_last() {
        let key = AccountKey::from_base64(DEV_ACCOUNT_KEY).unwrap();
        let query = vector_sas().to_query("devstoreaccount1", &key);
        assert!(
            query.starts_with(
                "sv=2025-11-05&ss=bq&srt=sco&sp=racwdlup&st=2025-01-01T00%3A00%3A00Z&se=2025-01-02T00%3A00%3A00Z&spr=https%2Chttp&sig="
            ),
            "{query}"
        );
        let sig = query.rsplit("sig=").next().unwrap();
        assert!(!sig.contains(['+', '/', '=']), "{sig}");
    }

    #[test]
    fn times_are_converted_to_utc() {
        let t = datetime!(2025-06-01 02:30:15 +02:00);
        assert_eq!(sas_time(t), "2025-06-01T00:30:15Z");
    }

    #[test]
    fn keys_must_be_base64_and_never_print() {
        assert_eq!(
            AccountKey::from_base64("not base64!"),
            Err(InvalidAccountKey)
        );
        assert_eq!(AccountKey::from_base64(""), Err(InvalidAccountKey));
        let key = AccountKey::from_base64(DEV_ACCOUNT_KEY).unwrap();
        assert_eq!(format!("{key:?}"), "AccountKey(<redacted>)");
    }

    #[test]
    fn sas_tokens_need_a_signature() {
        assert_eq!(
            SasToken::parse("?sv=1&sig=abc").unwrap().as_query(),
            "sv=1&sig=abc"
        );
        assert!(SasToken::parse("sv=1&se=2").is_err());
        assert_eq!(
            format!("{:?}", SasToken::parse("sig=x").unwrap()),
            "SasToken(<redacted>)"
        );
    }
}
