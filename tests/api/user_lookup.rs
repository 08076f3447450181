//! Server-to-server user lookup (issue 18, seed S3): `GET /api/users/{id}`
//! and `GET /api/users?email=` for callers holding `users:read`, cacheable
//! with an ETag, and every refusal with its own status.

use reqwest::{header, Client, Method};
use serde_json::{json, Value};

use crate::helpers::{error_code, Backend};
use crate::machines::{
    answer, flip, header_text, machines, made_up_key, KeyIn, Machines, Person, BOTH_WAYS,
};
use crate::on_both_backends;

on_both_backends!(
    a_users_read_credential_looks_users_up_by_id_and_by_email,
    an_etag_answers_304_until_the_user_changes,
    lookups_are_refused_with_the_status_that_says_why,
);

fn by_email(email: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(email.as_bytes()).collect();
    format!("/api/users?email={encoded}")
}

/// A user with a display name, a role and attributes, set by the
/// administrator.
async fn described_user(m: &Machines) -> Person {
    m.make_role("reader", &["users:read"]).await;
    let person = m.person().await;
    let (status, body) = m
        .as_admin(
            Method::PATCH,
            &format!("/api/admin/users/{}", person.id),
            Some(json!({
                "display_name": "Looked Up",
                "roles": ["reader"],
                "attributes": { "team_id": "t-7" },
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    person
}

/// `GET path` with `Authorization: Bearer <credential>`, and
/// `If-None-Match` if given.
async fn get(m: &Machines, path: &str, credential: &str, etag: Option<&str>) -> reqwest::Response {
    let mut request = Client::new().get(m.app.url(path)).bearer_auth(credential);
    if let Some(etag) = etag {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    request.send().await.unwrap()
}

async fn a_users_read_credential_looks_users_up_by_id_and_by_email(backend: Backend) {
    let m = machines(backend).await;
    let person = described_user(&m).await;
    let (_, key) = m.admin_key(&["users:read"]).await;
    let (_, agent_key) = m.admin_agent(&["users:read"]).await;
    let machine_token = m.agent_token(&agent_key).await;
    let by_id = format!("/api/users/{}", person.id);
    let expected = json!({
        "id": person.id,
        "email": person.email,
        "display_name": "Looked Up",
        "roles": ["reader", "user"],
        "attributes": { "team_id": "t-7" },
        "disabled": false,
    });

    let response = get(&m, &by_id, &key, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header_text(&response, "cache-control").unwrap(),
        "private, max-age=300"
    );
    let etag = header_text(&response, "etag").expect("an ETag");
    assert!(
        etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
        "a strong ETag: {etag}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, expected);

    // By address, and with every kind of credential that holds users:read.
    let paths = [by_id.clone(), by_email(&person.email)];
    for path in &paths {
        for how in BOTH_WAYS {
            for credential in [&key, &agent_key] {
                let response = m
                    .send_with_key(how, Method::GET, path, credential, None)
                    .await;
                assert_eq!(response.status(), 200, "{how:?} {path}");
                assert_eq!(header_text(&response, "etag").unwrap(), etag, "{path}");
                assert_eq!(
                    header_text(&response, "cache-control").unwrap(),
                    "private, max-age=300"
                );
                assert_eq!(response.json::<Value>().await.unwrap(), expected);
            }
        }
        let (status, body) = m.with_token(Method::GET, path, &machine_token, None).await;
        assert_eq!(status, 200, "machine token {path}");
        assert_eq!(body, expected);
        // A signed-in person holding users:read, by session cookie.
        let (status, body) = m.as_admin(Method::GET, path, None).await;
        assert_eq!(status, 200, "session {path}");
        assert_eq!(body, expected);
    }

    // The disabled flag is what it is now.
    let (status, _) = m
        .as_admin(
            Method::PATCH,
            &format!("/api/admin/users/{}", person.id),
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = m
        .with_key(KeyIn::Header, Method::GET, &by_id, &key, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["disabled"], true);
}

async fn an_etag_answers_304_until_the_user_changes(backend: Backend) {
    let m = machines(backend).await;
    let person = described_user(&m).await;
    let (_, key) = m.admin_key(&["users:read"]).await;
    let by_id = format!("/api/users/{}", person.id);
    let by_address = by_email(&person.email);

    let first = header_text(&get(&m, &by_id, &key, None).await, "etag").unwrap();
    for path in [&by_id, &by_address] {
        let cached = get(&m, path, &key, Some(&first)).await;
        assert_eq!(cached.status(), 304, "{path}");
        assert!(cached.bytes().await.unwrap().is_empty(), "no body");
    }
    let other = get(&m, &by_id, &key, Some("\"something-else\"")).await;
    assert_eq!(other.status(), 200);

    // The user renames themselves: a new ETag, and the old one no longer
    // matches. (Their session is refreshed first: the new role made it
    // stale.)
    assert_eq!(m.app.refresh(&person.client).await.status(), 200);
    let renamed = person
        .client
        .put(m.app.url("/api/auth/profile"))
        .json(&json!({ "display_name": "Renamed Person" }))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    let response = get(&m, &by_id, &key, Some(&first)).await;
    assert_eq!(response.status(), 200);
    let second = header_text(&response, "etag").unwrap();
    assert_ne!(second, first);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["display_name"], "Renamed Person");
    assert_eq!(get(&m, &by_id, &key, Some(&second)).await.status(), 304);

    // An administrator changes their roles and attributes: new again.
    let (status, _) = m
        .as_admin(
            Method::PATCH,
            &format!("/api/admin/users/{}", person.id),
            Some(json!({ "roles": [], "attributes": { "team_id": "t-8" } })),
        )
        .await;
    assert_eq!(status, 200);
    let response = get(&m, &by_address, &key, Some(&second)).await;
    assert_eq!(response.status(), 200);
    let third = header_text(&response, "etag").unwrap();
    assert_ne!(third, second);
    assert_ne!(third, first);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["roles"], json!(["user"]));
    assert_eq!(body["attributes"], json!({ "team_id": "t-8" }));
    assert_eq!(get(&m, &by_id, &key, Some(&third)).await.status(), 304);
}

async fn lookups_are_refused_with_the_status_that_says_why(backend: Backend) {
    let m = machines(backend).await;
    let person = m.person().await;
    let (_, reader) = m.admin_key(&["users:read"]).await;
    let (auditor_made, auditor) = m.admin_key(&["audit:read"]).await;
    let (_, auditing_agent) = m.admin_agent(&["audit:read"]).await;
    let auditing_token = m.agent_token(&auditing_agent).await;
    let by_id = format!("/api/users/{}", person.id);
    let by_address = by_email(&person.email);

    // No credential, or a bad one: 401 saying how to authenticate.
    for path in [&by_id, &by_address] {
        let response = Client::new().get(m.app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert!(header_text(&response, "www-authenticate").is_some());
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), "unauthenticated");
        for bad in [flip(&reader, 30), made_up_key("pk"), "garbage".to_owned()] {
            for how in BOTH_WAYS {
                let response = m.send_with_key(how, Method::GET, path, &bad, None).await;
                assert_eq!(response.status(), 401, "{how:?} {path} {bad}");
                assert!(
                    header_text(&response, "www-authenticate").is_some(),
                    "{how:?} {path} {bad}"
                );
            }
        }
    }
    // Revoked: 401 too.
    let (status, _) = m
        .as_admin(
            Method::DELETE,
            &format!(
                "/api/auth/api-keys/{}",
                auditor_made["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let response = get(&m, &by_id, &auditor, None).await;
    assert_eq!(response.status(), 401);
    assert!(header_text(&response, "www-authenticate").is_some());

    // Authenticated without users:read: 403, before anything is looked up.
    let (_, auditor) = m.admin_key(&["audit:read"]).await;
    let unknown = format!("/api/users/{}", uuid::Uuid::new_v4());
    for path in [&by_id, &by_address, &unknown] {
        for credential in [&auditor, &auditing_agent] {
            for how in BOTH_WAYS {
                let (status, body) = m.with_key(how, Method::GET, path, credential, None).await;
                assert_eq!(status, 403, "{how:?} {path}: {body}");
                assert_eq!(error_code(&body), "forbidden");
            }
        }
        let (status, body) = m.with_token(Method::GET, path, &auditing_token, None).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(error_code(&body), "forbidden");
        let (status, body) = m.call(&person.client, Method::GET, path, None).await;
        assert_eq!(status, 403, "a person without users:read, {path}: {body}");
    }

    // No such user: 404, however the id is spelt.
    for path in [
        unknown.clone(),
        "/api/users/not-a-uuid".to_owned(),
        "/api/users/12345".to_owned(),
        by_email("nobody@example.com"),
    ] {
        let (status, body) = m
            .with_key(KeyIn::Header, Method::GET, &path, &reader, None)
            .await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    // A lookup by address needs the address.
    for path in ["/api/users", "/api/users?mail=x@example.com"] {
        let (status, body) = answer(
            m.send_with_key(KeyIn::Header, Method::GET, path, &reader, None)
                .await,
        )
        .await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(error_code(&body), "invalid_query");
    }
}
