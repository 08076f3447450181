//! What the machine-identity tests share (issue 18): an app with a signed-in
//! administrator, people with roles, personal keys, agents and their
//! keys, tokens from `/api/agents/token` and `/oauth2/token`, and the
//! documented key format checked without the server's code.

use reqwest::{header, Client, Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{spawn_app_with, Backend, TestApp, GOOD_PASSWORD};

pub const ADMIN: &str = "machines-admin@example.com";

/// Every permission the catalogue has once issue 18 lands.
pub const ALL_PERMISSIONS: [&str; 7] = [
    "users:read",
    "users:write",
    "users:disable",
    "sessions:revoke",
    "roles:write",
    "audit:read",
    "agents:manage",
];

/// Where a request carries an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyIn {
    /// `Authorization: Bearer pcl_…`
    Bearer,
    /// `X-API-Key: pcl_…`
    Header,
}

pub const BOTH_WAYS: [KeyIn; 2] = [KeyIn::Bearer, KeyIn::Header];

/// An app whose bootstrap administrator is signed in on `admin` (a
/// cookie client, as the web app is).
pub struct Machines {
    pub app: TestApp,
    pub admin: Client,
    pub admin_id: String,
}

/// A person signed in on their own cookie client.
pub struct Person {
    pub client: Client,
    pub email: String,
    pub id: String,
}

pub async fn machines(backend: Backend) -> Machines {
    machines_with(backend, &[]).await
}

pub async fn machines_with(backend: Backend, more: &[(&str, &str)]) -> Machines {
    let mut settings = vec![("PORTCULLIS_BOOTSTRAP_ADMIN", ADMIN)];
    settings.extend_from_slice(more);
    let app = spawn_app_with(backend, &settings).await;
    let admin = app.new_client();
    let response = app
        .post_json(
            &admin,
            "/api/auth/signup",
            &json!({ "email": ADMIN, "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let admin_id = id_of(&app, &admin).await;
    Machines {
        app,
        admin,
        admin_id,
    }
}

/// The signed-in user's id, as `/api/auth/me` says.
pub async fn id_of(app: &TestApp, client: &Client) -> String {
    let me = app.me(client).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    me["user"]["id"].as_str().unwrap().to_owned()
}

/// A response's status and JSON body (`Null` when there is none).
pub async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

/// A response header as text.
pub fn header_text(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

impl Machines {
    /// `method path` as `client` (a person's cookies), with a JSON body.
    pub async fn call(
        &self,
        client: &Client,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = client.request(method, self.app.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("request failed")).await
    }

    pub async fn as_admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call(&self.admin, method, path, body).await
    }

    /// `method path` with only an API key (no cookies), carried `how`.
    pub async fn send_with_key(
        &self,
        how: KeyIn,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = Client::new().request(method, self.app.url(path));
        request = match how {
            KeyIn::Bearer => request.bearer_auth(key),
            KeyIn::Header => request.header("x-api-key", key),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request failed")
    }

    pub async fn with_key(
        &self,
        how: KeyIn,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        answer(self.send_with_key(how, method, path, key, body).await).await
    }

    /// `method path` with only `Authorization: Bearer <token>`.
    pub async fn with_token(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Client::new()
            .request(method, self.app.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("request failed")).await
    }

    /// A new user signed in on their own client.
    pub async fn person(&self) -> Person {
        let client = self.app.new_client();
        let email = self.app.signup(&client).await;
        let id = id_of(&self.app, &client).await;
        Person { client, email, id }
    }

    /// A new user holding, besides `user`, a role of their own with
    /// `permissions`, named `role` (made here by the administrator).
    pub async fn person_with(&self, role: &str, permissions: &[&str]) -> Person {
        self.make_role(role, permissions).await;
        let person = self.person().await;
        self.set_roles(&person, &[role]).await;
        person
    }

    pub async fn make_role(&self, role: &str, permissions: &[&str]) {
        let (status, body) = self
            .as_admin(
                Method::POST,
                "/api/admin/roles",
                Some(json!({ "name": role, "permissions": permissions })),
            )
            .await;
        assert_eq!(status, 201, "role {role}: {body}");
    }

    /// Gives `person` exactly `roles` (besides `user`), then refreshes their
    /// session so that it carries them.
    pub async fn set_roles(&self, person: &Person, roles: &[&str]) {
        let (status, body) = self
            .as_admin(
                Method::PATCH,
                &format!("/api/admin/users/{}", person.id),
                Some(json!({ "roles": roles })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(self.app.refresh(&person.client).await.status(), 200);
    }

    /// A personal key made by `client` with `body`: (its ApiKey, the key).
    pub async fn personal_key(&self, client: &Client, body: Value) -> (Value, String) {
        let (status, made) = self
            .call(client, Method::POST, "/api/auth/api-keys", Some(body))
            .await;
        assert_eq!(status, 201, "{made}");
        let key = made["key"].as_str().unwrap().to_owned();
        (made["api_key"].clone(), key)
    }

    /// The administrator's personal key with `scopes`.
    pub async fn admin_key(&self, scopes: &[&str]) -> (Value, String) {
        self.personal_key(
            &self.admin,
            json!({ "name": format!("key-{}", short_id()), "scopes": scopes }),
        )
        .await
    }

    /// Registers an agent (`kind` "agent" or "service") for `client`:
    /// (the Agent, its key).
    pub async fn register(
        &self,
        client: &Client,
        name: &str,
        kind: &str,
        permissions: &[&str],
    ) -> (Value, String) {
        let (status, made) = self
            .call(
                client,
                Method::POST,
                "/api/agents",
                Some(json!({
                    "name": name,
                    "kind": kind,
                    "description": format!("{name} for the tests"),
                    "permissions": permissions,
                })),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        let key = made["key"].as_str().unwrap().to_owned();
        (made["agent"].clone(), key)
    }

    /// An agent of the administrator's with `permissions`.
    pub async fn admin_agent(&self, permissions: &[&str]) -> (Value, String) {
        self.register(
            &self.admin,
            &format!("agent-{}", short_id()),
            "agent",
            permissions,
        )
        .await
    }

    /// `POST /api/agents/token` with `key` and `body`.
    pub async fn agent_token_answer(&self, key: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.with_key(KeyIn::Bearer, Method::POST, "/api/agents/token", key, body)
            .await
    }

    /// A machine token for the agent whose key is `key`.
    pub async fn agent_token(&self, key: &str) -> String {
        let (status, body) = self.agent_token_answer(key, None).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// `POST /oauth2/token` with `form`, and HTTP Basic `(id, secret)` if
    /// given.
    pub async fn oauth_token(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        let mut request = Client::new()
            .post(self.app.url("/oauth2/token"))
            .header(header::ACCEPT, "application/json")
            .form(form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(form_encode(id), Some(form_encode(secret)));
        }
        request.send().await.expect("request failed")
    }

    /// A client-credentials token for the agent `id` with `key` (Basic).
    pub async fn client_credentials(&self, id: &str, key: &str, more: &[(&str, &str)]) -> Value {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(more);
        let response = self.oauth_token(&form, Some((id, key))).await;
        let (status, body) = answer(response).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `GET /api/users/{id}` with `key` in `Authorization: Bearer`.
    pub async fn lookup_with_key(&self, key: &str, id: &str) -> StatusCode {
        self.send_with_key(
            KeyIn::Bearer,
            Method::GET,
            &format!("/api/users/{id}"),
            key,
            None,
        )
        .await
        .status()
    }
}

/// RFC 6749 §2.3.1: client credentials are form-encoded inside Basic.
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Eight characters that make names unique within a test.
pub fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// The JOSE header of a JWT, read without checking it.
pub fn jwt_header(jwt: &str) -> Value {
    use base64::Engine;
    let head = jwt.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A space-separated scope (or a JSON list of names) as a sorted list.
pub fn names(value: &Value) -> Vec<String> {
    let mut names: Vec<String> = match value {
        Value::String(s) => s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
        other => panic!("not a scope or a list of names: {other}"),
    };
    names.sort();
    names
}

/// `permissions` sorted, to compare with `names`.
pub fn sorted(permissions: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = permissions.iter().map(|p| (*p).to_owned()).collect();
    out.sort();
    out
}

// The documented key format, written from the contract, not the server's
// code: `pcl_` + `sk`|`pk` + `_` + 43 base62 characters (32 random bytes)
// + 6 base62 characters (CRC32 of everything before them).

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const KEY_LEN: usize = 56;

/// `^pcl_(?:sk|pk)_[0-9A-Za-z]{49}$`: the documented regex
/// `\bpcl_(?:sk|pk)_[0-9A-Za-z]{49}\b` on a whole string.
pub fn has_key_shape(s: &str) -> bool {
    s.len() == KEY_LEN
        && (s.starts_with("pcl_sk_") || s.starts_with("pcl_pk_"))
        && s.bytes().skip(7).all(|b| b.is_ascii_alphanumeric())
}

/// Every match of the documented regex in `text`, as a secret scanner
/// finds them.
pub fn find_keys(text: &[u8]) -> Vec<String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut found = Vec::new();
    let mut at = 0;
    while at + KEY_LEN <= text.len() {
        let candidate = &text[at..at + KEY_LEN];
        let boundary_before = at == 0 || !word(text[at - 1]);
        let boundary_after = text.get(at + KEY_LEN).is_none_or(|b| !word(*b));
        if boundary_before && boundary_after {
            if let Ok(s) = std::str::from_utf8(candidate) {
                if has_key_shape(s) {
                    found.push(s.to_owned());
                }
            }
        }
        at += 1;
    }
    found
}

/// Big-endian `bytes` in base62, left-padded with `0` to `width`.
pub fn base62(bytes: &[u8], width: usize) -> String {
    let mut number = bytes.to_vec();
    let mut digits = Vec::new();
    while number.iter().any(|b| *b != 0) {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let acc = remainder * 256 + u32::from(*byte);
            *byte = u8::try_from(acc / 62).unwrap();
            remainder = acc % 62;
        }
        digits.push(BASE62[remainder as usize]);
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap()
}

/// The 6-character checksum of the 50 characters before it.
pub fn checksum(head: &str) -> String {
    base62(&crc32fast::hash(head.as_bytes()).to_be_bytes(), 6)
}

/// A key of the right shape with a right checksum that the server never
/// made.
pub fn made_up_key(kind: &str) -> String {
    let random: [u8; 32] = rand::random();
    let head = format!("pcl_{kind}_{}", base62(&random, 43));
    let sum = checksum(&head);
    format!("{head}{sum}")
}

/// `key` with the character at `index` changed to another base62 one: the
/// same shape, a checksum that no longer holds.
pub fn flip(key: &str, index: usize) -> String {
    let mut bytes = key.as_bytes().to_vec();
    bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

pub fn sha256(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

pub fn lower_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Everything the database holds, as bytes to search: the SQLite file and
/// its journal, or every PostgreSQL table's rows as text (`bytea` as
/// `\x` and lower-case hex).
pub async fn database_dump(app: &TestApp) -> Vec<u8> {
    match app.database.backend() {
        Backend::Sqlite => {
            let path = app.database.url.trim_start_matches("sqlite://").to_owned();
            let mut dump = Vec::new();
            for suffix in ["", "-wal", "-journal"] {
                if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                    dump.extend_from_slice(&bytes);
                }
            }
            assert!(!dump.is_empty(), "no database file at {path}");
            dump
        }
        Backend::Postgres => {
            let tables: Vec<String> = app
                .sql
                .column(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                )
                .await;
            assert!(tables.iter().any(|t| t == "api_keys"), "{tables:?}");
            let mut dump = Vec::new();
            for table in tables {
                let rows: String = app
                    .sql
                    .scalar(
                        &format!(
                            "SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM \"{table}\" t"
                        ),
                        &[],
                    )
                    .await;
                dump.extend_from_slice(rows.as_bytes());
                dump.push(b'\n');
            }
            dump
        }
    }
}

/// The server's clock now.
pub fn now(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    use portcullis::server::platform::clock::Clock;
    app.clock.now()
}

/// An RFC 3339 time from a JSON field.
pub fn time(value: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap_or_else(|| panic!("{value}")))
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Whether `a` and `b` are the same moment to within a second (a stored
/// time may be kept to the second).
pub fn same_moment(a: chrono::DateTime<chrono::Utc>, b: chrono::DateTime<chrono::Utc>) -> bool {
    (a - b).num_milliseconds().abs() < 1000
}

pub const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

#[test]
fn the_format_helpers_follow_the_documented_format() {
    assert_eq!(base62(&[0, 61], 2), "0z");
    assert_eq!(base62(&[0, 62], 3), "010");
    assert_eq!(base62(&[1, 0], 1), "48");
    assert_eq!(base62(&[255; 32], 43).len(), 43, "32 bytes need 43 digits");
    assert_eq!(base62(&u32::MAX.to_be_bytes(), 6), "4gfFC3");
    assert_eq!(base62(&[0; 4], 6), "000000");
    for kind in ["sk", "pk"] {
        let key = made_up_key(kind);
        assert!(has_key_shape(&key), "{key}");
        assert_eq!(checksum(&key[..50]), key[50..]);
        let mistyped = flip(&key, 20);
        assert!(has_key_shape(&mistyped));
        assert_ne!(checksum(&mistyped[..50]), mistyped[50..]);
        assert_eq!(
            find_keys(format!("\"{key}\"").as_bytes()),
            vec![key.clone()]
        );
        assert!(find_keys(format!("a{key}").as_bytes()).is_empty());
        assert!(find_keys(format!("{key}_").as_bytes()).is_empty());
        assert!(find_keys(&key.as_bytes()[..55]).is_empty());
    }
}
