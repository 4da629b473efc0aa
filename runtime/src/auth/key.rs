//! Keys: 32 random bytes, kept in a file as 64 hexadecimal digits.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Bytes of a key.
pub const KEY_LEN: usize = 32;

/// A secret key. Its `Debug` output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; KEY_LEN]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Why a key could not be read.
#[derive(Debug)]
pub enum KeyError {
    /// The file could not be read.
    Read(PathBuf, io::Error),
    /// The text is not a key.
    Malformed(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Read(p, e) => write!(f, "cannot read key file {}: {e}", p.display()),
            KeyError::Malformed(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for KeyError {}

impl Key {
    /// A key made of these bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Key {
        Key(bytes)
    }

    /// A new random key from the operating system's generator (through a
    /// cryptographically secure generator seeded from it).
    pub fn generate() -> Key {
        Key(rand::random())
    }

    /// The key's bytes.
    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Reads a key from 64 hexadecimal digits (surrounding whitespace allowed).
    pub fn from_hex(text: &str) -> Result<Key, KeyError> {
        let text = text.trim();
        if text.len() != 2 * KEY_LEN || !text.is_ascii() {
            return Err(KeyError::Malformed(format!(
                "a key is {} hexadecimal digits (`ringleader keygen` writes one); got {} characters",
                2 * KEY_LEN,
                text.chars().count()
            )));
        }
        let mut out = [0u8; KEY_LEN];
        for (i, byte) in out.iter_mut().enumerate() {
            let pair = text.get(2 * i..2 * i + 2).unwrap_or("");
            *byte = u8::from_str_radix(pair, 16).map_err(|_| {
                KeyError::Malformed(format!("a key is hexadecimal digits; found {pair:?}"))
            })?;
        }
        if out.iter().all(|&b| b == out[0]) {
            return Err(KeyError::Malformed(
                "this key is one byte repeated: generate a random one with `ringleader keygen`"
                    .into(),
            ));
        }
        Ok(Key(out))
    }

    /// The key as 64 lowercase hexadecimal digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads the key file at `path`; warns if others than its owner may read it.
    pub fn load(path: &Path) -> Result<Key, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|e| KeyError::Read(path.to_owned(), e))?;
        let key = Key::from_hex(&text)
            .map_err(|e| KeyError::Malformed(format!("key file {}: {e}", path.display())))?;
        warn_if_readable_by_others(path);
        Ok(key)
    }

    /// Writes the key to a new file at `path`, readable by its owner only. An
    /// existing file is never overwritten.
    pub fn write_new(&self, path: &Path) -> io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(format!("{}\n", self.to_hex()).as_bytes())?;
        f.sync_all()
    }
}

fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "key file is readable by other users: chmod 600 it"
            );
        }
    }
}

/// The keys a node or a client holds.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    /// Authenticates members to each other: peer links and server datagrams.
    /// Without it the cluster is open to anyone who can reach its ports.
    pub cluster: Option<Key>,
    /// Authenticates clients (their connections and probes). Never lets a
    /// connection speak as a member.
    pub client: Option<Key>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_from_their_hex_and_bad_text_is_refused() {
        let k = Key::generate();
        assert_eq!(Key::from_hex(&format!("  {}\n", k.to_hex())).unwrap(), k);
        assert!(Key::from_hex("abc").is_err());
        assert!(Key::from_hex(&"zz".repeat(32)).is_err());
        assert!(Key::from_hex(&"00".repeat(32)).is_err());
        assert!(Key::from_hex(&"é".repeat(32)).is_err());
        assert_eq!(format!("{k:?}"), "Key(..)");
    }
}
