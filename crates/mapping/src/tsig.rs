//! TSIG keys (RFC 8945) and the transfer clients that must sign with one.
//!
//! `[[tsig_key]]` declares a key (`name`, `algorithm`, and `secret` or
//! `secret_file`, so that the secret need not live in a ConfigMap); an
//! `allow_transfer` entry written `{ network = "10.20.0.4/32", key = "…" }`
//! lets that network transfer only with that key, and NOTIFY to an
//! address in it is signed with it. The signing itself is the server's.

use std::fmt;

use ipnet::IpNet;

use crate::diagnostic::Report;
use crate::name::DomainName;

/// The HMAC algorithms BIND and Knot offer for TSIG (RFC 8945 §6; MD5 is
/// left out: deprecated, and neither creates it by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TsigAlgorithm {
    HmacSha1,
    HmacSha224,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl TsigAlgorithm {
    pub const ALL: [Self; 5] = [
        Self::HmacSha1,
        Self::HmacSha224,
        Self::HmacSha256,
        Self::HmacSha384,
        Self::HmacSha512,
    ];

    /// The algorithm's name as written in a TSIG record (without the dot).
    pub fn name(self) -> &'static str {
        match self {
            Self::HmacSha1 => "hmac-sha1",
            Self::HmacSha224 => "hmac-sha224",
            Self::HmacSha256 => "hmac-sha256",
            Self::HmacSha384 => "hmac-sha384",
            Self::HmacSha512 => "hmac-sha512",
        }
    }

    /// From a name, any case, trailing dot optional.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim_end_matches('.');
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(text))
    }
}

/// A TSIG key. Its `Debug` form leaves the secret out, so that it never
/// reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    pub name: DomainName,
    pub algorithm: TsigAlgorithm,
    pub secret: Vec<u8>,
    pub line: usize,
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"(hidden)")
            .finish()
    }
}

/// An `allow_transfer` entry: a network, and the key it must sign with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferClient {
    pub network: IpNet,
    pub key: Option<DomainName>,
    pub line: usize,
}

/// The base64 secret in a key file: BIND's (`secret "…";`, as
/// `tsig-keygen` writes), Knot's (`secret: …`, as `keymgr -t` writes), or
/// the file's whole content.
pub fn secret_in_key_file(text: &str) -> &str {
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("secret") {
            let value = rest
                .trim_start_matches([' ', '\t', ':'])
                .trim_end_matches(';');
            return value.trim().trim_matches('"');
        }
    }
    text.trim()
}

/// Errors for keys declared twice and entries naming a key that is not
/// declared.
pub(crate) fn check(keys: &[TsigKey], clients: &[TransferClient], report: &mut Report) {
    for (index, key) in keys.iter().enumerate() {
        if keys[..index].iter().any(|earlier| earlier.name == key.name) {
            report.error(
                key.line,
                "tsig_key.name",
                format!("the key {} is declared twice", key.name),
                None,
            );
        }
    }
    for client in clients {
        let Some(name) = &client.key else {
            continue;
        };
        if !keys.iter().any(|key| &key.name == name) {
            report.error(
                client.line,
                "server.allow_transfer",
                format!("the key {name} is not declared"),
                Some(
                    "declare it in a [[tsig_key]] table (name, algorithm, secret or secret_file)"
                        .into(),
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_and_key_files_are_read_as_bind_and_knot_write_them() {
        assert_eq!(
            TsigAlgorithm::parse("HMAC-SHA256."),
            Some(TsigAlgorithm::HmacSha256)
        );
        assert_eq!(TsigAlgorithm::parse("hmac-md5"), None);
        let bind = "key \"xfer\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0\";\n};\n";
        assert_eq!(secret_in_key_file(bind), "c2VjcmV0");
        let knot = "key:\n  - id: xfer\n    algorithm: hmac-sha256\n    secret: c2VjcmV0\n";
        assert_eq!(secret_in_key_file(knot), "c2VjcmV0");
        assert_eq!(secret_in_key_file("c2VjcmV0\n"), "c2VjcmV0");
    }

    #[test]
    fn keys_and_keyed_transfer_clients_are_read_with_their_errors() {
        let dir = std::env::temp_dir().join(format!("tsig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("xfer.key");
        std::fs::write(
            &file,
            "key \"b\" {\n\talgorithm hmac-sha512;\n\tsecret \"c2VjcmV0Mg==\";\n};\n",
        )
        .unwrap();
        let text = format!(
            "[server]\nallow_transfer = [\"10.0.0.5\", {{ network = \"10.20.0.4/32\", key = \"a.key\" }}]\n\
             [[tsig_key]]\nname = \"a.key\"\nsecret = \"c2VjcmV0\"\n\
             [[tsig_key]]\nname = \"b\"\nalgorithm = \"hmac-sha512\"\nsecret_file = \"{}\"\n",
            file.display()
        );
        let loaded = crate::load_str("t.toml", &text).unwrap();
        let server = &loaded.settings.server;
        assert_eq!(server.transfer_clients.len(), 2);
        assert_eq!(server.transfer_clients[0].key, None);
        assert_eq!(
            server.transfer_clients[1]
                .key
                .as_ref()
                .map(DomainName::as_str),
            Some("a.key")
        );
        assert_eq!(server.transfer_clients[1].line, 2);
        assert_eq!(server.tsig_keys[0].secret, b"secret");
        assert_eq!(server.tsig_keys[0].algorithm, TsigAlgorithm::HmacSha256);
        assert_eq!(server.tsig_keys[1].secret, b"secret2");
        assert!(!format!("{:?}", server.tsig_keys[0]).contains("secret\""));
        std::fs::remove_dir_all(&dir).ok();

        let errors = |text: &str| -> Vec<String> {
            match crate::load_str("t.toml", text) {
                Err(crate::LoadError::Invalid { diagnostics, .. }) => diagnostics
                    .iter()
                    .filter(|d| d.is_error())
                    .map(ToString::to_string)
                    .collect(),
                _ => panic!("accepted: {text}"),
            }
        };
        let unknown =
            errors("[server]\nallow_transfer = [{ network = \"10.0.0.1\", key = \"nope\" }]\n");
        assert!(
            unknown[0].contains("t.toml:2: server.allow_transfer: the key nope is not declared"),
            "{unknown:?}"
        );
        let bad = errors("[[tsig_key]]\nname = \"k\"\nsecret = \"not base64!\"\n");
        assert!(
            bad[0].contains("t.toml:3: tsig_key[0].secret: the secret is not base64"),
            "{bad:?}"
        );
        assert!(
            !bad[0].contains("not base64!"),
            "the secret is not repeated"
        );
        let algorithm =
            errors("[[tsig_key]]\nname = \"k\"\nalgorithm = \"hmac-md5\"\nsecret = \"c2VjcmV0\"\n");
        assert!(
            algorithm[0].contains("unknown TSIG algorithm"),
            "{algorithm:?}"
        );
    }
}
