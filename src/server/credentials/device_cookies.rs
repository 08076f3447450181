//! Device cookies (OWASP's defence against lockout abuse): a browser that
//! signed in to an account carries a cookie, signed by the server, saying
//! so. Sign-in attempts with it are throttled per device, not per account,
//! so failures others cause on the account do not lock its owner out.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use uuid::Uuid;

use super::keys::{KeyError, SigningKeys};

/// How long a device stays known without signing in again.
pub const DEVICE_COOKIE_TTL: TimeDelta = TimeDelta::days(180);

/// What a valid device cookie says: this browser signed in to `user_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device {
    /// Random, per browser; names the device's own throttle counter.
    pub id: Uuid,
    pub user_id: Uuid,
}

/// Issues and checks device cookies. The key is derived from the signing
/// key, so every replica shares it and a key rotation retires old cookies
/// (their owners fall back to the ordinary limits until they sign in).
#[derive(Clone)]
pub struct DeviceCookies {
    /// Keyed once; cloned for each cookie.
    mac: HmacSha256,
}

impl std::fmt::Debug for DeviceCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceCookies([redacted])")
    }
}

type HmacSha256 = Hmac<Sha256>;

/// user id, device id, issue time in seconds: 16 + 16 + 8 bytes.
const PAYLOAD_LEN: usize = 40;

impl DeviceCookies {
    pub fn new(keys: &SigningKeys) -> Result<Self, KeyError> {
        let key = keys.derive(b"portcullis device cookie v1")?;
        let mac = <HmacSha256 as Mac>::new_from_slice(&key).map_err(KeyError::new)?;
        Ok(Self { mac })
    }

    /// A cookie value for a browser that just signed in as `user_id`.
    pub fn issue(&self, user_id: Uuid, now: DateTime<Utc>) -> String {
        let mut device = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut device);
        let mut payload = Vec::with_capacity(PAYLOAD_LEN);
        payload.extend_from_slice(user_id.as_bytes());
        payload.extend_from_slice(&device);
        payload.extend_from_slice(&now.timestamp().to_be_bytes());
        let tag = self.mac(&payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The device, if `value` is a cookie this server issued, unexpired.
    pub fn verify(&self, value: &str, now: DateTime<Utc>) -> Option<Device> {
        let (payload, tag) = value.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(&payload).verify_slice(&tag).ok()?;
        let (user_id, rest) = payload.split_first_chunk::<16>()?;
        let (device, issued) = rest.split_first_chunk::<16>()?;
        let issued = <[u8; 8]>::try_from(issued).ok()?;
        let issued = DateTime::from_timestamp(i64::from_be_bytes(issued), 0)?;
        if issued > now || now - issued > DEVICE_COOKIE_TTL {
            return None;
        }
        Some(Device {
            id: Uuid::from_bytes(*device),
            user_id: Uuid::from_bytes(*user_id),
        })
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(payload);
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::platform::secret::Secret;

    fn cookies(secret: u8) -> DeviceCookies {
        DeviceCookies::new(&SigningKeys::Hs256 {
            current: Secret::new(vec![secret; 32]),
            accepted: Vec::new(),
        })
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn a_device_cookie_names_its_user_until_it_expires() {
        let c = cookies(1);
        let user = Uuid::new_v4();
        let value = c.issue(user, now());
        let device = c.verify(&value, now()).unwrap();
        assert_eq!(device.user_id, user);
        assert_eq!(c.verify(&value, now() + DEVICE_COOKIE_TTL).unwrap(), device);
        assert!(c
            .verify(&value, now() + DEVICE_COOKIE_TTL + TimeDelta::seconds(1))
            .is_none());
        // Two sign-ins, two devices.
        assert_ne!(
            c.verify(&c.issue(user, now()), now()).unwrap().id,
            device.id
        );
    }

    #[test]
    fn forged_or_foreign_device_cookies_are_worthless() {
        let c = cookies(1);
        let value = c.issue(Uuid::new_v4(), now());
        assert!(cookies(2).verify(&value, now()).is_none());
        let (payload, tag) = value.split_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(payload).unwrap();
        bytes[0] ^= 1;
        let tampered = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(bytes));
        assert!(c.verify(&tampered, now()).is_none());
        for junk in ["", ".", "x.y", "abc"] {
            assert!(c.verify(junk, now()).is_none());
        }
    }
}
