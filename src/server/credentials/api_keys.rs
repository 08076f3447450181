//! API keys: `pcl_<kind>_<43 base62 random><6 base62 CRC32>`. The fixed
//! shape and the checksum let secret scanners find a leaked key
//! (`\bpcl_(?:sk|pk)_[0-9A-Za-z]{49}\b`) and let the server refuse a
//! mistyped one before any lookup. Only the SHA-256 is ever stored.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// What every key starts with.
pub const PREFIX: &str = "pcl_";
/// Characters of the random part: 32 bytes need 43 base62 digits.
const RANDOM_LEN: usize = 43;
/// Characters of the checksum: a CRC32 needs 6 base62 digits.
const CHECKSUM_LEN: usize = 6;
/// `pcl_` + kind + `_` + random + checksum.
pub const KEY_LEN: usize = PREFIX.len() + 3 + RANDOM_LEN + CHECKSUM_LEN;
/// How much of a key is kept to tell keys apart: the kind and 5 random
/// characters (30 of its 256 bits).
pub const SHOWN_PREFIX_LEN: usize = PREFIX.len() + 3 + 5;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whose key it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// A service account's or an agent's secret.
    Service,
    /// A person's own key.
    Personal,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "sk",
            Self::Personal => "pk",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sk" => Some(Self::Service),
            "pk" => Some(Self::Personal),
            _ => None,
        }
    }
}

/// A freshly made key, shown to its owner once. `Debug` hides it.
pub struct NewApiKey {
    key: String,
    kind: KeyKind,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewApiKey({}…)", self.prefix())
    }
}

impl NewApiKey {
    /// 256 random bits from the OS.
    pub fn generate(kind: KeyKind) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let mut key = format!("{PREFIX}{}_", kind.as_str());
        key.push_str(&base62(&bytes, RANDOM_LEN));
        let checksum = crc32fast::hash(key.as_bytes());
        key.push_str(&base62(&checksum.to_be_bytes(), CHECKSUM_LEN));
        Self { key, kind }
    }

    pub fn expose(&self) -> &str {
        &self.key
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    pub fn hash(&self) -> [u8; 32] {
        hash(&self.key)
    }

    pub fn prefix(&self) -> &str {
        self.key.get(..SHOWN_PREFIX_LEN).unwrap_or_default()
    }
}

/// A key as presented, once its shape and checksum hold: only its kind and
/// hash are kept, so nothing downstream can leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedKey {
    pub kind: KeyKind,
    pub hash: [u8; 32],
}

impl std::fmt::Debug for PresentedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PresentedKey({})", self.kind.as_str())
    }
}

impl PresentedKey {
    /// `None` for anything not shaped like a key, or whose checksum fails.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != KEY_LEN || !text.starts_with(PREFIX) {
            return None;
        }
        let kind = KeyKind::parse(text.get(PREFIX.len()..PREFIX.len() + 2)?)?;
        if text.as_bytes().get(PREFIX.len() + 2) != Some(&b'_') {
            return None;
        }
        let body = text.get(PREFIX.len() + 3..)?;
        if !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let (signed, checksum) = text.split_at_checked(KEY_LEN - CHECKSUM_LEN)?;
        let expected = base62(
            &crc32fast::hash(signed.as_bytes()).to_be_bytes(),
            CHECKSUM_LEN,
        );
        // Random part too large for 32 bytes: not made here.
        if decode_base62(body.get(..RANDOM_LEN)?).is_none() || checksum != expected {
            return None;
        }
        Some(Self {
            kind,
            hash: hash(text),
        })
    }

    /// Whether `text` looks like a key at all (to pick it out of a bearer
    /// header before any JWT parsing).
    pub fn looks_like_one(text: &str) -> bool {
        text.starts_with(PREFIX)
    }
}

/// The only form in which keys are stored.
pub fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// `bytes` as a big-endian number in base62, left-padded with `0` to `width`.
fn base62(bytes: &[u8], width: usize) -> String {
    // Repeated division of the byte string by 62.
    let mut number: Vec<u8> = bytes.to_vec();
    let mut digits = Vec::with_capacity(width);
    while number.iter().any(|b| *b != 0) {
        let mut remainder: u32 = 0;
        for byte in &mut number {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = u8::try_from(value / 62).unwrap_or(u8::MAX);
            remainder = value % 62;
        }
        digits.push(BASE62.get(remainder as usize).copied().unwrap_or(b'0'));
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// The 32 bytes `text` encodes, if it fits in them.
fn decode_base62(text: &str) -> Option<[u8; 32]> {
    let mut number = [0u8; 32];
    for c in text.bytes() {
        let digit = BASE62.iter().position(|b| *b == c)?;
        let mut carry = u32::try_from(digit).ok()?;
        for byte in number.iter_mut().rev() {
            let value = u32::from(*byte) * 62 + carry;
            *byte = (value & 0xff) as u8;
            carry = value >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanner_regex_matches(key: &str) -> bool {
        // `\bpcl_(?:sk|pk)_[0-9A-Za-z]{49}\b`, by hand (no regex crate).
        key.len() == KEY_LEN
            && (key.starts_with("pcl_sk_") || key.starts_with("pcl_pk_"))
            && key[7..].bytes().all(|b| b.is_ascii_alphanumeric())
    }

    #[test]
    fn a_new_key_has_the_documented_shape_and_parses_back() {
        for kind in [KeyKind::Service, KeyKind::Personal] {
            let key = NewApiKey::generate(kind);
            let text = key.expose();
            assert!(scanner_regex_matches(text), "{text}");
            assert_eq!(text.len(), 56);
            let parsed = PresentedKey::parse(text).unwrap();
            assert_eq!(parsed.kind, kind);
            assert_eq!(parsed.hash, key.hash());
            assert_eq!(key.prefix(), &text[..12]);
            assert!(!format!("{key:?}").contains(text));
            assert!(!format!("{parsed:?}").contains(&text[12..]));
        }
    }

    #[test]
    fn keys_differ_and_use_the_whole_alphabet_range() {
        let a = NewApiKey::generate(KeyKind::Service);
        let b = NewApiKey::generate(KeyKind::Service);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn one_changed_character_fails_the_checksum() {
        let key = NewApiKey::generate(KeyKind::Personal);
        let text = key.expose().to_owned();
        for at in 7..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
            let typo = String::from_utf8(bytes).unwrap();
            assert_eq!(PresentedKey::parse(&typo), None, "position {at}");
        }
        // Swapped kind: the checksum covers it too.
        let other_kind = text.replacen("pcl_pk_", "pcl_sk_", 1);
        assert_eq!(PresentedKey::parse(&other_kind), None);
    }

    #[test]
    fn malformed_keys_are_refused() {
        let key = NewApiKey::generate(KeyKind::Service);
        let text = key.expose();
        for bad in [
            "",
            "pcl_",
            "pcl_xk_",
            &text[..text.len() - 1],
            &format!("{text}0"),
            &text.replacen("pcl_", "pcx_", 1),
            &text.replacen("_sk_", "-sk_", 1),
            &format!("pcl_sk-{}", &text[7..]),
            "pcl_sk_ééééééééééééééééééééééééééééééééééééééééééééééééé",
        ] {
            assert_eq!(PresentedKey::parse(bad), None, "{bad}");
        }
        // The right shape with a random part too large for 32 bytes and a
        // matching checksum: still not a key this server makes.
        let mut too_big = String::from("pcl_sk_");
        too_big.push_str(&"z".repeat(RANDOM_LEN));
        let checksum = base62(&crc32fast::hash(too_big.as_bytes()).to_be_bytes(), 6);
        too_big.push_str(&checksum);
        assert_eq!(PresentedKey::parse(&too_big), None);
    }

    #[test]
    fn base62_round_trips_and_pads() {
        assert_eq!(base62(&[0; 4], 6), "000000");
        assert_eq!(base62(&[0, 0, 0, 61], 6), "00000z");
        assert_eq!(base62(&[0, 0, 0, 62], 6), "000010");
        assert_eq!(base62(&u32::MAX.to_be_bytes(), 6), "4gfFC3");
        let bytes = [0xffu8; 32];
        let text = base62(&bytes, RANDOM_LEN);
        assert_eq!(text.len(), RANDOM_LEN);
        assert_eq!(decode_base62(&text), Some(bytes));
        let small = base62(&[1; 32], RANDOM_LEN);
        assert_eq!(decode_base62(&small), Some([1; 32]));
    }
}
