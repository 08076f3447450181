//! API keys (issue 18): their format and checksum, hashing at rest,
//! expiry, revocation (on this server, by another writer, on another
//! replica), last use, the forgery guard, and where keys are refused.

use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    error_code, within_a_second, Backend, ServerProcess, TestDatabase, GOOD_PASSWORD,
};
use crate::machines::{
    answer, checksum, contains, database_dump, find_keys, flip, has_key_shape, header_text,
    lower_hex, machines, machines_with, made_up_key, now, same_moment, sha256, short_id, time,
    KeyIn, Machines, ADMIN, BOTH_WAYS, DAY,
};
use crate::on_both_backends;

on_both_backends!(
    keys_have_the_documented_shape_and_a_checksum_of_what_precedes_it,
    malformed_mistyped_and_unknown_keys_are_refused_and_the_server_carries_on,
    past_the_limit_an_addresss_unknown_keys_are_refused_without_a_lookup,
    the_database_holds_only_the_hash_of_a_key,
    personal_keys_are_listed_newest_first_without_the_key_and_bad_input_is_refused,
    keys_expire_after_90_days_by_default_and_never_later_than_the_maximum,
    the_longest_expiry_is_the_operators_choice,
    only_an_administrator_makes_a_key_that_never_expires,
    a_revoked_key_is_refused_at_once_and_after_another_writer_within_a_second,
    a_keys_last_use_is_recorded_at_most_once_a_minute,
    keys_need_no_forgery_check_and_cookies_alone_still_do,
    keys_are_refused_at_the_account_endpoints_and_at_admin_without_an_explicit_scope,
    keys_and_tokens_stop_with_their_owner,
);

async fn keys_have_the_documented_shape_and_a_checksum_of_what_precedes_it(backend: Backend) {
    let m = machines(backend).await;
    let (personal, pk) = m.admin_key(&["users:read"]).await;
    let (agent, sk) = m.admin_agent(&["users:read"]).await;
    let (_, another_pk) = m.admin_key(&["users:read"]).await;

    for (key, kind) in [(&pk, "pk"), (&sk, "sk"), (&another_pk, "pk")] {
        assert!(has_key_shape(key), "{key}");
        assert!(key.starts_with(&format!("pcl_{kind}_")), "{key}");
        assert_eq!(key.len(), 56);
        // CRC32 (IEEE) of everything before it, base62, left-padded.
        assert_eq!(checksum(&key[..50]), key[50..], "{key}");
        // A secret scanner finds it in text, and only it.
        let text = format!("export TOKEN={key}\nx=pcl_{kind}_short\n");
        assert_eq!(find_keys(text.as_bytes()), vec![key.clone()]);
    }
    assert_ne!(pk, another_pk);

    assert_eq!(personal["kind"], "pk");
    assert_eq!(personal["prefix"], pk[..12]);
    assert_eq!(personal["scopes"], json!(["users:read"]));
    let agent_keys = agent["keys"].as_array().unwrap();
    assert_eq!(agent_keys.len(), 1, "{agent}");
    assert_eq!(agent_keys[0]["kind"], "sk");
    assert_eq!(agent_keys[0]["prefix"], sk[..12]);

    // Both keys work, in either header.
    let lookup = format!("/api/users/{}", m.admin_id);
    for how in BOTH_WAYS {
        let (status, body) = m.with_key(how, Method::GET, &lookup, &pk, None).await;
        assert_eq!(status, 200, "{how:?}: {body}");
        assert_eq!(body["id"], m.admin_id.as_str());
        let (status, body) = m
            .with_key(how, Method::POST, "/api/agents/token", &sk, None)
            .await;
        assert_eq!(status, 200, "{how:?}: {body}");
    }
}

async fn malformed_mistyped_and_unknown_keys_are_refused_and_the_server_carries_on(
    backend: Backend,
) {
    let m = machines(backend).await;
    let (_, pk) = m.admin_key(&["users:read"]).await;
    let (_, sk) = m.admin_agent(&["users:read"]).await;
    let lookup = format!("/api/users/{}", m.admin_id);

    let swapped_kind = format!("pcl_sk_{}", &pk[7..]);
    let bad_personal = [
        // One character mistyped in the random part, then in the checksum.
        flip(&pk, 20),
        flip(&pk, 7),
        flip(&pk, 52),
        flip(&pk, 55),
        // The checksum covers the kind.
        swapped_kind,
        // Right shape, right checksum, never issued.
        made_up_key("pk"),
        made_up_key("sk"),
        // Wrong length, alphabet, prefix.
        pk[..55].to_owned(),
        format!("{pk}A"),
        format!("{}-{}", &pk[..30], &pk[31..]),
        pk.to_uppercase(),
        format!("pcl_xk_{}", &pk[7..]),
        "pcl_pk_".to_owned(),
        "not-a-key".to_owned(),
    ];
    for how in BOTH_WAYS {
        for bad in &bad_personal {
            let response = m.send_with_key(how, Method::GET, &lookup, bad, None).await;
            assert_eq!(response.status(), 401, "{how:?} {bad}");
            assert!(
                header_text(&response, "www-authenticate").is_some(),
                "{how:?} {bad}"
            );
        }
    }
    for bad in [flip(&sk, 30), flip(&sk, 51), made_up_key("sk")] {
        for how in BOTH_WAYS {
            let (status, body) = m
                .with_key(how, Method::POST, "/api/agents/token", &bad, None)
                .await;
            assert_eq!(status, 401, "{how:?} {bad}");
            assert_eq!(error_code(&body), "unauthenticated", "{body}");
        }
    }

    // Many at once: all refused, and the real keys still work afterwards.
    let many = futures::future::join_all((0..20).map(|n| {
        let key = if n % 2 == 0 {
            made_up_key("pk")
        } else {
            flip(&pk, 8 + n)
        };
        let url = m.app.url(&lookup);
        async move {
            Client::new()
                .get(url)
                .header("x-api-key", key)
                .send()
                .await
                .unwrap()
                .status()
        }
    }))
    .await;
    assert!(many.iter().all(|s| *s == 401), "{many:?}");
    assert_eq!(m.lookup_with_key(&pk, &m.admin_id).await, 200);
    let (status, _) = m.agent_token_answer(&sk, None).await;
    assert_eq!(status, 200);
    assert_eq!(m.app.get("/health").await.status(), 200);
}

/// With the key tables locked against every reader, a key whose checksum
/// fails is still refused: it was turned away before any lookup.
#[tokio::test]
async fn a_mistyped_key_is_refused_without_reading_the_database() {
    use sqlx::{Connection, Executor, PgConnection};

    let m = machines(Backend::Postgres).await;
    let (_, sk) = m.admin_agent(&["users:read"]).await;
    let mut locker = PgConnection::connect(&m.app.database.url).await.unwrap();
    locker.execute("BEGIN").await.unwrap();
    locker
        .execute("LOCK TABLE api_keys, service_accounts IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    for bad in [flip(&sk, 20), flip(&sk, 53), sk[..40].to_owned()] {
        let refused =
            tokio::time::timeout(Duration::from_secs(5), m.agent_token_answer(&bad, None))
                .await
                .expect("answered while the key tables are locked");
        assert_eq!(refused.0, 401, "{bad}");
    }
    locker.execute("ROLLBACK").await.unwrap();
}

/// Made-up keys from one address are looked up at most
/// `PORTCULLIS_UNKNOWN_KEY_LIMIT_PER_MINUTE` times; then even a real key the
/// server has not seen yet is refused from that address, which shows no
/// lookup happened. Keys it knows pass, and other addresses are untouched.
async fn past_the_limit_an_addresss_unknown_keys_are_refused_without_a_lookup(backend: Backend) {
    let m = machines_with(
        backend,
        &[
            ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
            ("PORTCULLIS_UNKNOWN_KEY_LIMIT_PER_MINUTE", "3"),
        ],
    )
    .await;
    let lookup = m.app.url(&format!("/api/users/{}", m.admin_id));
    let from = |address: &'static str, key: &str| {
        Client::new()
            .get(&lookup)
            .header("x-forwarded-for", address)
            .header("x-api-key", key)
            .send()
    };
    let (_, known) = m.admin_key(&["users:read"]).await;
    let (_, unseen) = m.admin_key(&["users:read"]).await;
    assert_eq!(from("198.51.100.7", &known).await.unwrap().status(), 200);

    for _ in 0..3 {
        let refused = from("198.51.100.7", &made_up_key("pk")).await.unwrap();
        assert_eq!(refused.status(), 401);
    }
    let refused = from("198.51.100.7", &unseen).await.unwrap();
    assert_eq!(refused.status(), 401, "an unseen key, not looked up");
    assert!(header_text(&refused, "www-authenticate").is_some());
    assert_eq!(from("198.51.100.7", &known).await.unwrap().status(), 200);

    // Another address looks it up; then the server knows it everywhere.
    assert_eq!(from("203.0.113.9", &unseen).await.unwrap().status(), 200);
    assert_eq!(from("198.51.100.7", &unseen).await.unwrap().status(), 200);
}

async fn the_database_holds_only_the_hash_of_a_key(backend: Backend) {
    let m = machines(backend).await;
    let (_, pk) = m.admin_key(&["users:read"]).await;
    let (agent, sk) = m.admin_agent(&["users:read"]).await;
    let id = agent["id"].as_str().unwrap();
    let (status, rotated) = m
        .as_admin(
            Method::POST,
            &format!("/api/agents/{id}/keys"),
            Some(json!({ "name": "rotated" })),
        )
        .await;
    assert_eq!(status, 201, "{rotated}");
    let second_sk = rotated["key"].as_str().unwrap().to_owned();
    // Each used once, so that last-use and audit writes happened too.
    assert_eq!(m.lookup_with_key(&pk, &m.admin_id).await, 200);
    m.agent_token(&sk).await;
    m.agent_token(&second_sk).await;
    let keys = [pk, sk, second_sk];

    // Column by column: the hash as bytes, the first 12 characters shown.
    let hashes: Vec<Vec<u8>> = m.app.sql.column("SELECT key_hash FROM api_keys").await;
    let prefixes: Vec<String> = m.app.sql.column("SELECT prefix FROM api_keys").await;
    assert_eq!(hashes.len(), 3);
    for key in &keys {
        assert!(
            hashes.contains(&sha256(key)),
            "the SHA-256 of {}",
            &key[..12]
        );
        assert!(prefixes.contains(&key[..12].to_owned()), "{prefixes:?}");
    }

    // The whole database: no key, nor anything that looks like one.
    let dump = database_dump(&m.app).await;
    for key in &keys {
        assert!(!contains(&dump, key.as_bytes()), "a key is stored");
        assert!(
            !contains(&dump, &key.as_bytes()[7..]),
            "a key's secret part is stored"
        );
        let hash = sha256(key);
        let stored = match backend {
            Backend::Sqlite => contains(&dump, &hash),
            Backend::Postgres => contains(&dump, lower_hex(&hash).as_bytes()),
        };
        assert!(stored, "the SHA-256 is in the database");
    }
    assert_eq!(find_keys(&dump), Vec::<String>::new());
}

async fn personal_keys_are_listed_newest_first_without_the_key_and_bad_input_is_refused(
    backend: Backend,
) {
    let m = machines(backend).await;
    let (first, first_key) = m
        .personal_key(
            &m.admin,
            json!({ "name": "first", "scopes": ["users:read"], "expires_in_days": 30 }),
        )
        .await;
    m.app.clock.advance(Duration::from_secs(1));
    let (second, second_key) = m
        .personal_key(
            &m.admin,
            json!({ "name": "second", "scopes": ["audit:read", "users:read"] }),
        )
        .await;
    for made in [&first, &second] {
        for field in [
            "id",
            "name",
            "kind",
            "prefix",
            "scopes",
            "created_at",
            "expires_at",
            "last_used_at",
            "last_used_ip",
        ] {
            assert!(made.get(field).is_some(), "{field} in {made}");
        }
        assert_eq!(made["last_used_at"], Value::Null);
        assert_eq!(made["last_used_ip"], Value::Null);
    }
    assert_eq!(first["name"], "first");

    let (status, list) = m.as_admin(Method::GET, "/api/auth/api-keys", None).await;
    assert_eq!(status, 200);
    let ids: Vec<&Value> = list["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["id"])
        .collect();
    assert_eq!(ids, [&second["id"], &first["id"]], "newest first");
    let text = list.to_string();
    assert!(!text.contains(&first_key) && !text.contains(&second_key));
    assert!(!text.contains(&first_key[7..]) && !text.contains(&second_key[7..]));

    // Another person sees none of them and cannot revoke them.
    let other = m.person().await;
    let (status, theirs) = m
        .call(&other.client, Method::GET, "/api/auth/api-keys", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(theirs["api_keys"], json!([]));
    let first_path = format!("/api/auth/api-keys/{}", first["id"].as_str().unwrap());
    let (status, _) = m
        .call(&other.client, Method::DELETE, &first_path, None)
        .await;
    assert_eq!(status, 404);
    let unknown = format!("/api/auth/api-keys/{}", uuid::Uuid::new_v4());
    let (status, _) = m.as_admin(Method::DELETE, &unknown, None).await;
    assert_eq!(status, 404);
    assert_eq!(m.lookup_with_key(&first_key, &m.admin_id).await, 200);

    // Bad input changes nothing.
    let refused = [
        (
            json!({ "name": "", "scopes": ["users:read"] }),
            400,
            "invalid_name",
        ),
        (
            json!({ "name": "x".repeat(65), "scopes": ["users:read"] }),
            400,
            "invalid_name",
        ),
        (
            json!({ "name": "line\nbreak", "scopes": ["users:read"] }),
            400,
            "invalid_name",
        ),
        (
            json!({ "name": "ok", "scopes": ["users:fly"] }),
            400,
            "invalid_permission",
        ),
        (
            json!({ "name": "ok", "scopes": ["users:read"], "expires_in_days": 0 }),
            400,
            "invalid_expiry",
        ),
    ];
    for (body, status, code) in refused {
        let (got, answer) = m
            .as_admin(Method::POST, "/api/auth/api-keys", Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(error_code(&answer), code, "{body}");
    }
    let (status, _) = m
        .as_admin(
            Method::POST,
            "/api/auth/api-keys",
            Some(json!({ "name": "y".repeat(64), "scopes": ["users:read"] })),
        )
        .await;
    assert_eq!(status, 201, "64 characters is a name");
    // A scope the person does not hold.
    let (status, body) = m
        .call(
            &other.client,
            Method::POST,
            "/api/auth/api-keys",
            Some(json!({ "name": "mine", "scopes": ["users:read"] })),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_code(&body), "forbidden");
    let (_, theirs) = m
        .call(&other.client, Method::GET, "/api/auth/api-keys", None)
        .await;
    assert_eq!(theirs["api_keys"], json!([]));

    // Revoked: gone from the list, refused, and a second revocation is 404.
    let (status, _) = m.as_admin(Method::DELETE, &first_path, None).await;
    assert_eq!(status, 204);
    assert_eq!(m.lookup_with_key(&first_key, &m.admin_id).await, 401);
    let (_, list) = m.as_admin(Method::GET, "/api/auth/api-keys", None).await;
    assert!(!list.to_string().contains(first["id"].as_str().unwrap()));
    assert_eq!(list["api_keys"].as_array().unwrap().len(), 2);
    let (status, _) = m.as_admin(Method::DELETE, &first_path, None).await;
    assert_eq!(status, 404);
}

async fn keys_expire_after_90_days_by_default_and_never_later_than_the_maximum(backend: Backend) {
    let m = machines(backend).await;
    let start = now(&m.app);
    let days = |n: i64| chrono::Duration::days(n);
    let (default, default_key) = m.admin_key(&["users:read"]).await;
    let (month, month_key) = m
        .personal_key(
            &m.admin,
            json!({ "name": "month", "scopes": ["users:read"], "expires_in_days": 30 }),
        )
        .await;
    let (year, year_key) = m
        .personal_key(
            &m.admin,
            json!({ "name": "year", "scopes": ["users:read"], "expires_in_days": 365 }),
        )
        .await;
    assert!(same_moment(time(&default["expires_at"]), start + days(90)));
    assert!(same_moment(time(&month["expires_at"]), start + days(30)));
    assert!(same_moment(time(&year["expires_at"]), start + days(365)));
    assert!(same_moment(time(&default["created_at"]), start));
    for over in [366, 10_000] {
        let (status, body) = m
            .as_admin(
                Method::POST,
                "/api/auth/api-keys",
                Some(json!({ "name": "too-long", "scopes": ["users:read"], "expires_in_days": over })),
            )
            .await;
        assert_eq!(status, 400, "{over}: {body}");
        assert_eq!(error_code(&body), "invalid_expiry");
    }
    // An agent's keys: 90 days too, or what is asked for.
    let (agent, agent_key) = m.admin_agent(&["users:read"]).await;
    assert!(same_moment(
        time(&agent["keys"][0]["expires_at"]),
        start + days(90)
    ));
    let agent_id = agent["id"].as_str().unwrap();
    let (status, day) = m
        .as_admin(
            Method::POST,
            &format!("/api/agents/{agent_id}/keys"),
            Some(json!({ "name": "one-day", "expires_in_days": 1 })),
        )
        .await;
    assert_eq!(status, 201, "{day}");
    assert!(same_moment(
        time(&day["api_key"]["expires_at"]),
        start + days(1)
    ));
    let day_key = day["key"].as_str().unwrap().to_owned();
    let (status, body) = m
        .as_admin(
            Method::POST,
            &format!("/api/agents/{agent_id}/keys"),
            Some(json!({ "name": "too-long", "expires_in_days": 366 })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "invalid_expiry");

    let works = |key: String| {
        let m = &m;
        async move { m.lookup_with_key(&key, &m.admin_id).await }
    };
    let agent_works = |key: String| {
        let m = &m;
        async move { m.agent_token_answer(&key, None).await.0 }
    };

    m.app.clock.advance(DAY + Duration::from_secs(1));
    assert_eq!(
        agent_works(day_key.clone()).await,
        401,
        "a day and a second"
    );
    assert_eq!(agent_works(agent_key.clone()).await, 200);

    m.app.clock.advance(DAY * 28);
    assert_eq!(works(month_key.clone()).await, 200, "29 days");
    m.app.clock.advance(DAY);
    assert_eq!(works(month_key.clone()).await, 401, "30 days and a second");
    assert_eq!(works(default_key.clone()).await, 200);

    m.app.clock.advance(DAY * 59);
    assert_eq!(works(default_key.clone()).await, 200, "89 days");
    m.app.clock.advance(DAY);
    assert_eq!(
        works(default_key.clone()).await,
        401,
        "90 days and a second"
    );
    assert_eq!(agent_works(agent_key).await, 401);
    assert_eq!(works(year_key).await, 200);
}

async fn the_longest_expiry_is_the_operators_choice(backend: Backend) {
    let m = machines_with(backend, &[("PORTCULLIS_API_KEY_MAX_DAYS", "30")]).await;
    let start = now(&m.app);
    let (status, body) = m
        .as_admin(
            Method::POST,
            "/api/auth/api-keys",
            Some(json!({ "name": "over", "scopes": ["users:read"], "expires_in_days": 31 })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "invalid_expiry");
    let (made, _) = m
        .personal_key(
            &m.admin,
            json!({ "name": "at", "scopes": ["users:read"], "expires_in_days": 30 }),
        )
        .await;
    assert!(same_moment(
        time(&made["expires_at"]),
        start + chrono::Duration::days(30)
    ));
}

async fn only_an_administrator_makes_a_key_that_never_expires(backend: Backend) {
    let m = machines(backend).await;
    let reader = m.person_with("reader", &["users:read"]).await;
    let (status, body) = m
        .call(
            &reader.client,
            Method::POST,
            "/api/auth/api-keys",
            Some(json!({ "name": "forever", "scopes": ["users:read"], "never_expires": true })),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_code(&body), "forbidden");
    let (readers_agent, _) = m
        .register(&reader.client, "readers-agent", "agent", &["users:read"])
        .await;
    let (status, body) = m
        .call(
            &reader.client,
            Method::POST,
            &format!("/api/agents/{}/keys", readers_agent["id"].as_str().unwrap()),
            Some(json!({ "name": "forever", "never_expires": true })),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_code(&body), "forbidden");
    let (_, theirs) = m
        .call(&reader.client, Method::GET, "/api/auth/api-keys", None)
        .await;
    assert_eq!(theirs["api_keys"], json!([]));

    let (forever, forever_key) = m
        .personal_key(
            &m.admin,
            json!({ "name": "forever", "scopes": ["users:read"], "never_expires": true }),
        )
        .await;
    assert_eq!(forever["expires_at"], Value::Null);
    let (agent, agent_key) = m.admin_agent(&["users:read"]).await;
    let (status, body) = m
        .as_admin(
            Method::POST,
            &format!("/api/agents/{}/keys", agent["id"].as_str().unwrap()),
            Some(json!({ "name": "forever", "never_expires": true })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["api_key"]["expires_at"], Value::Null);
    let agent_forever = body["key"].as_str().unwrap().to_owned();

    // Ten years on: the ordinary keys are long gone, these still work.
    m.app.clock.advance(DAY * 3653);
    assert_eq!(m.lookup_with_key(&forever_key, &m.admin_id).await, 200);
    assert_eq!(m.agent_token_answer(&agent_forever, None).await.0, 200);
    assert_eq!(m.agent_token_answer(&agent_key, None).await.0, 401);
}

async fn a_revoked_key_is_refused_at_once_and_after_another_writer_within_a_second(
    backend: Backend,
) {
    let m = machines(backend).await;
    let (revoked, revoked_key) = m.admin_key(&["users:read"]).await;
    let (_, other_key) = m.admin_key(&["users:read"]).await;
    let (_, written_key) = m.admin_key(&["users:read"]).await;
    // Known to the server: checked twice.
    for key in [&revoked_key, &other_key, &written_key] {
        for _ in 0..2 {
            assert_eq!(m.lookup_with_key(key, &m.admin_id).await, 200);
        }
    }

    let (status, _) = m
        .as_admin(
            Method::DELETE,
            &format!("/api/auth/api-keys/{}", revoked["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 204);
    for how in BOTH_WAYS {
        let response = m
            .send_with_key(
                how,
                Method::GET,
                &format!("/api/users/{}", m.admin_id),
                &revoked_key,
                None,
            )
            .await;
        assert_eq!(response.status(), 401, "{how:?}");
    }
    assert_eq!(m.lookup_with_key(&other_key, &m.admin_id).await, 200);

    // Another writer (another replica, an operator's SQL) revokes one.
    let changed = m
        .app
        .sql
        .execute(&format!(
            "UPDATE api_keys SET revoked_at = created_at WHERE prefix = '{}'",
            &written_key[..12]
        ))
        .await
        .unwrap();
    assert_eq!(changed, 1);
    within_a_second(|| async { m.lookup_with_key(&written_key, &m.admin_id).await == 401 }).await;
    assert_eq!(m.lookup_with_key(&other_key, &m.admin_id).await, 200);
}

async fn a_keys_last_use_is_recorded_at_most_once_a_minute(backend: Backend) {
    let m = machines(backend).await;
    let (made, key) = m.admin_key(&["users:read"]).await;
    let id = made["id"].clone();
    let listed = || {
        let m = &m;
        let id = id.clone();
        async move {
            let (status, list) = m.as_admin(Method::GET, "/api/auth/api-keys", None).await;
            assert_eq!(status, 200);
            list["api_keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["id"] == id)
                .cloned()
                .expect("the key is listed")
        }
    };
    let first_use = now(&m.app);
    assert_eq!(m.lookup_with_key(&key, &m.admin_id).await, 200);
    within_a_second(|| async { !listed().await["last_used_at"].is_null() }).await;
    let seen = listed().await;
    assert!(
        same_moment(time(&seen["last_used_at"]), first_use),
        "{seen}"
    );
    assert_eq!(seen["last_used_ip"], "127.0.0.1");

    m.app.clock.advance(Duration::from_secs(30));
    assert_eq!(m.lookup_with_key(&key, &m.admin_id).await, 200);
    let seen = listed().await;
    assert!(
        same_moment(time(&seen["last_used_at"]), first_use),
        "not written again within a minute: {seen}"
    );

    m.app.clock.advance(Duration::from_secs(31));
    let later_use = now(&m.app);
    assert_eq!(m.lookup_with_key(&key, &m.admin_id).await, 200);
    within_a_second(|| async { same_moment(time(&listed().await["last_used_at"]), later_use) })
        .await;
}

/// A request a page on another site makes.
fn cross_site(client: &Client, method: Method, url: String) -> reqwest::RequestBuilder {
    client
        .request(method, url)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
}

async fn keys_need_no_forgery_check_and_cookies_alone_still_do(backend: Backend) {
    let m = machines(backend).await;
    let (_, sk) = m.admin_agent(&["users:read"]).await;
    let (_, revoker) = m.admin_key(&["sessions:revoke"]).await;

    // A key alone: no cookies, so nothing a browser adds by itself.
    for how in BOTH_WAYS {
        let request = cross_site(&Client::new(), Method::POST, m.app.url("/api/agents/token"));
        let request = match how {
            KeyIn::Bearer => request.bearer_auth(&sk),
            KeyIn::Header => request.header("x-api-key", &sk),
        };
        let (status, body) = answer(request.send().await.unwrap()).await;
        assert_eq!(status, 200, "{how:?}: {body}");
        assert!(body["access_token"].is_string());
    }
    let victim = m.person().await;
    let (status, body) = answer(
        cross_site(
            &Client::new(),
            Method::POST,
            m.app
                .url(&format!("/api/admin/users/{}/sign-out", victim.id)),
        )
        .header("x-api-key", &revoker)
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(m.app.me(&victim.client).await.status(), 401);

    // Cookies alone (the administrator's browser) from another site.
    let before = agent_names(&m).await;
    for (path, body) in [
        ("/api/agents/token", json!({})),
        (
            "/api/agents",
            json!({ "name": "forged", "kind": "agent", "permissions": [] }),
        ),
        (
            "/api/auth/api-keys",
            json!({ "name": "forged", "scopes": ["users:read"] }),
        ),
    ] {
        let (status, answer_body) = answer(
            cross_site(&m.admin, Method::POST, m.app.url(path))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 403, "{path}: {answer_body}");
        assert_eq!(error_code(&answer_body), "csrf", "{path}");
    }
    // Cookies with a made-up key of the right shape: the key authenticates
    // nothing, and the cookies must not act in its place. The well-formed
    // key passes the forgery guard (no browser sends one on its own), so it
    // is refused as the unknown key it is.
    let (status, body) = answer(
        cross_site(&m.admin, Method::POST, m.app.url("/api/agents"))
            .header("x-api-key", made_up_key("pk"))
            .json(&json!({ "name": "forged-2", "kind": "agent", "permissions": [] }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(error_code(&body), "unauthenticated");
    // Cookies with a real key on an account endpoint, which takes no key:
    // refused as unauthenticated (the key is refused, the cookies never
    // stand in for it), and no key is made.
    let keys_before = key_names(&m).await;
    let response = cross_site(&m.admin, Method::POST, m.app.url("/api/auth/api-keys"))
        .header("x-api-key", &revoker)
        .json(&json!({ "name": "forged-3", "scopes": ["users:read"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(key_names(&m).await, keys_before, "no key was made");
    assert_eq!(agent_names(&m).await, before, "no agent was registered");
}

/// The names of the administrator's agents.
async fn agent_names(m: &Machines) -> Vec<String> {
    let (status, list) = m.as_admin(Method::GET, "/api/agents", None).await;
    assert_eq!(status, 200, "{list}");
    list["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The names of the administrator's personal keys.
async fn key_names(m: &Machines) -> Vec<String> {
    let (status, list) = m.as_admin(Method::GET, "/api/auth/api-keys", None).await;
    assert_eq!(status, 200, "{list}");
    list["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn keys_are_refused_at_the_account_endpoints_and_at_admin_without_an_explicit_scope(
    backend: Backend,
) {
    let m = machines(backend).await;
    let (_, reader) = m.admin_key(&["users:read"]).await;
    let (_, auditor) = m.admin_key(&["audit:read"]).await;
    let (_, sk) = m.admin_agent(&["users:read", "audit:read"]).await;
    let machine_token = m.agent_token(&sk).await;

    let account: [(Method, &str, Option<Value>); 6] = [
        (Method::GET, "/api/auth/me", None),
        (Method::GET, "/api/auth/api-keys", None),
        (
            Method::POST,
            "/api/auth/api-keys",
            Some(json!({ "name": "from-a-key", "scopes": ["users:read"] })),
        ),
        (
            Method::PUT,
            "/api/auth/profile",
            Some(json!({ "display_name": "Changed By A Key" })),
        ),
        (Method::GET, "/api/auth/sessions", None),
        (Method::GET, "/api/auth/activity", None),
    ];
    for key in [&reader, &sk] {
        for how in BOTH_WAYS {
            for (method, path, body) in &account {
                let (status, answer) = m
                    .with_key(how, method.clone(), path, key, body.clone())
                    .await;
                assert_eq!(status, 401, "{how:?} {method} {path}: {answer}");
                assert_eq!(error_code(&answer), "unauthenticated", "{method} {path}");
            }
        }
    }
    let me: Value = m.app.me(&m.admin).await.json().await.unwrap();
    assert_ne!(me["user"]["display_name"], "Changed By A Key");
    let (_, keys) = m.as_admin(Method::GET, "/api/auth/api-keys", None).await;
    assert!(!keys.to_string().contains("from-a-key"), "{keys}");

    // A personal key reaches an admin endpoint with that endpoint's
    // permission among its scopes, and no other.
    let user_path = format!("/api/admin/users/{}", m.admin_id);
    let cases: [(&String, Method, &str, Option<Value>, StatusCode); 6] = [
        (
            &reader,
            Method::GET,
            "/api/admin/users",
            None,
            StatusCode::OK,
        ),
        (&reader, Method::GET, &user_path, None, StatusCode::OK),
        (
            &reader,
            Method::GET,
            "/api/admin/audit",
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            &reader,
            Method::PATCH,
            &user_path,
            Some(json!({ "display_name": "Renamed By A Key" })),
            StatusCode::FORBIDDEN,
        ),
        (
            &auditor,
            Method::GET,
            "/api/admin/audit",
            None,
            StatusCode::OK,
        ),
        (
            &auditor,
            Method::GET,
            "/api/admin/users",
            None,
            StatusCode::FORBIDDEN,
        ),
    ];
    for (key, method, path, body, expected) in cases {
        for how in BOTH_WAYS {
            let (status, answer) = m
                .with_key(how, method.clone(), path, key, body.clone())
                .await;
            assert_eq!(status, expected, "{how:?} {method} {path} {answer}");
            if expected == StatusCode::FORBIDDEN {
                assert_eq!(error_code(&answer), "forbidden");
            }
        }
    }
    let (_, users) = m
        .with_key(
            KeyIn::Header,
            Method::GET,
            "/api/admin/users",
            &reader,
            None,
        )
        .await;
    assert!(users["users"].to_string().contains(ADMIN), "{users}");

    // An agent's key or token never reaches them, whatever it holds.
    for path in ["/api/admin/users", "/api/admin/audit"] {
        for how in BOTH_WAYS {
            let (status, answer) = m.with_key(how, Method::GET, path, &sk, None).await;
            assert_eq!(status, 403, "{how:?} {path} {answer}");
            assert_eq!(error_code(&answer), "forbidden");
        }
        let (status, answer) = m.with_token(Method::GET, path, &machine_token, None).await;
        assert_eq!(status, 403, "{path} {answer}");
        assert_eq!(error_code(&answer), "forbidden");
    }
}

async fn keys_and_tokens_stop_with_their_owner(backend: Backend) {
    let m = machines(backend).await;
    m.make_role("reader", &["users:read"]).await;
    let disabled_owner = m.person().await;
    m.set_roles(&disabled_owner, &["reader"]).await;
    let deleted_owner = m.person().await;
    m.set_roles(&deleted_owner, &["reader"]).await;

    let mut held = Vec::new();
    for owner in [&disabled_owner, &deleted_owner] {
        let (_, pk) = m
            .personal_key(
                &owner.client,
                json!({ "name": "mine", "scopes": ["users:read"] }),
            )
            .await;
        let (_, sk) = m
            .register(&owner.client, "helper", "agent", &["users:read"])
            .await;
        let token = m.agent_token(&sk).await;
        for _ in 0..2 {
            assert_eq!(m.lookup_with_key(&pk, &owner.id).await, 200);
            assert_eq!(m.lookup_with_key(&sk, &owner.id).await, 200);
            let (status, _) = m
                .with_token(
                    Method::GET,
                    &format!("/api/users/{}", owner.id),
                    &token,
                    None,
                )
                .await;
            assert_eq!(status, 200);
        }
        held.push((pk, sk, token));
    }
    let everything_refused = |owner_id: String, (pk, sk, token): (String, String, String)| {
        let m = &m;
        async move {
            m.lookup_with_key(&pk, &owner_id).await == 401
                && m.lookup_with_key(&sk, &owner_id).await == 401
                && m.agent_token_answer(&sk, None).await.0 == 401
                && m.with_token(Method::GET, &format!("/api/users/{owner_id}"), &token, None)
                    .await
                    .0
                    == 401
        }
    };

    let (status, _) = m
        .as_admin(
            Method::PATCH,
            &format!("/api/admin/users/{}", disabled_owner.id),
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, 200);
    within_a_second(|| everything_refused(disabled_owner.id.clone(), held[0].clone())).await;

    let (status, _) = m
        .as_admin(
            Method::DELETE,
            &format!("/api/admin/users/{}", deleted_owner.id),
            None,
        )
        .await;
    assert_eq!(status, 204);
    within_a_second(|| everything_refused(deleted_owner.id.clone(), held[1].clone())).await;
    let left: i64 = m
        .app
        .sql
        .scalar("SELECT count(*) FROM service_accounts", &[])
        .await;
    assert_eq!(left, 1, "the deleted owner's agent went with them");
}

/// Two real servers on one PostgreSQL database: a key revoked on replica
/// A is refused on replica B within a second, ten times over.
#[tokio::test]
async fn a_key_revoked_on_one_replica_is_refused_on_the_other_within_a_second() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let settings = [("PORTCULLIS_BOOTSTRAP_ADMIN", ADMIN)];
    let (a, b) = (
        ServerProcess::start(&database.url, &settings),
        ServerProcess::start(&database.url, &settings),
    );
    let browser = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_up = browser
        .post(a.url("/api/auth/signup"))
        .json(&json!({ "email": ADMIN, "password": GOOD_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 201);
    let me: Value = browser
        .get(a.url("/api/auth/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lookup = format!("/api/users/{}", me["user"]["id"].as_str().unwrap());
    let on_b = |key: String| {
        let url = b.url(&lookup);
        async move {
            Client::new()
                .get(url)
                .header("x-api-key", key)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for n in 0..10 {
        let (status, made) = answer(
            browser
                .post(a.url("/api/auth/api-keys"))
                .json(&json!({ "name": format!("replicated-{n}-{}", short_id()), "scopes": ["users:read"] }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 201, "{made}");
        let key = made["key"].as_str().unwrap().to_owned();
        // B knows the key.
        assert_eq!(on_b(key.clone()).await, 200);
        assert_eq!(on_b(key.clone()).await, 200);
        let revoked = browser
            .delete(a.url(&format!(
                "/api/auth/api-keys/{}",
                made["api_key"]["id"].as_str().unwrap()
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 204);
        within_a_second(|| {
            let status = on_b(key.clone());
            async move { status.await == 401 }
        })
        .await;
    }
}
