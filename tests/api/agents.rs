//! Service accounts and agents (issue 18): registering, listing, reading
//! and changing permissions within the owner's, disabling, deleting, key
//! rotation, the seed's paths, and the machine tokens they get.

use reqwest::{Client, Method};
use serde_json::{json, Value};

use crate::helpers::{
    error_code, jwt_claims, within_a_second, Backend, ServerProcess, TestDatabase, GOOD_PASSWORD,
};
use crate::machines::{
    answer, has_key_shape, jwt_header, machines, names, now, same_moment, sorted, time, KeyIn,
    Machines, ADMIN, ALL_PERMISSIONS, BOTH_WAYS,
};
use crate::on_both_backends;

on_both_backends!(
    an_agent_is_registered_with_its_key_shown_once_and_bad_registrations_are_refused,
    agents_belong_to_their_owner_and_a_manager_sees_them_all,
    an_agent_reads_its_own_permissions_and_its_owner_changes_them,
    an_agent_never_holds_more_than_its_owner_and_a_demoted_owner_shrinks_it,
    disabling_an_agent_stops_its_keys_and_tokens_within_a_second,
    a_deleted_agent_is_gone_with_its_keys_and_tokens,
    keys_rotate_with_at_most_two_live,
    managing_agents_takes_a_person,
    the_seed_paths_register_issue_tokens_and_read_and_change_permissions,
    the_agent_token_endpoint_issues_short_lived_machine_tokens,
);

fn agent_path(agent: &Value) -> String {
    format!("/api/agents/{}", agent["id"].as_str().unwrap())
}

fn lookup_path(id: &str) -> String {
    format!("/api/users/{id}")
}

/// The names in an agents list.
fn agent_names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["agents"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

async fn an_agent_is_registered_with_its_key_shown_once_and_bad_registrations_are_refused(
    backend: Backend,
) {
    let m = machines(backend).await;
    let owner = m
        .person_with("helper-owner", &["users:read", "audit:read"])
        .await;
    let registered_at = now(&m.app);
    let (status, made) = m
        .call(
            &owner.client,
            Method::POST,
            "/api/agents",
            Some(json!({
                "name": "builder",
                "kind": "agent",
                "description": "Builds things",
                "permissions": ["users:read"],
            })),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap().to_owned();
    assert!(has_key_shape(&key) && key.starts_with("pcl_sk_"), "{key}");
    let agent = &made["agent"];
    assert!(uuid::Uuid::parse_str(agent["id"].as_str().unwrap()).is_ok());
    assert_eq!(agent["name"], "builder");
    assert_eq!(agent["kind"], "agent");
    assert_eq!(agent["description"], "Builds things");
    assert_eq!(agent["permissions"], json!(["users:read"]));
    assert_eq!(agent["owner_id"], owner.id.as_str());
    assert_eq!(agent["disabled"], false);
    assert!(same_moment(time(&agent["created_at"]), registered_at));
    let keys = agent["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kind"], "sk");
    assert_eq!(keys[0]["prefix"], key[..12]);
    assert_eq!(keys[0]["scopes"], Value::Null, "all of the agent's own");

    // Never shown again.
    let (status, read) = m
        .call(&owner.client, Method::GET, &agent_path(agent), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(read["id"], agent["id"]);
    assert_eq!(read["keys"][0]["id"], keys[0]["id"]);
    let (status, list) = m
        .call(&owner.client, Method::GET, "/api/agents", None)
        .await;
    assert_eq!(status, 200);
    for text in [read.to_string(), list.to_string()] {
        assert!(!text.contains(&key) && !text.contains(&key[7..]), "{text}");
    }

    let (service, _) = m
        .register(&owner.client, "nightly-sync", "service", &["audit:read"])
        .await;
    assert_eq!(service["kind"], "service");

    let refused = [
        (
            json!({ "name": "robot", "kind": "robot", "permissions": [] }),
            400,
            "invalid_kind",
        ),
        (
            json!({ "name": "flyer", "kind": "agent", "permissions": ["users:fly"] }),
            400,
            "invalid_permission",
        ),
        (
            json!({ "name": "writer", "kind": "agent", "permissions": ["users:write"] }),
            403,
            "forbidden",
        ),
        (
            json!({ "name": "manager", "kind": "service", "permissions": ["users:read", "agents:manage"] }),
            403,
            "forbidden",
        ),
        (
            json!({ "name": "builder", "kind": "agent", "permissions": ["users:read"] }),
            409,
            "agent_exists",
        ),
        (
            json!({ "name": "builder", "kind": "service", "permissions": [] }),
            409,
            "agent_exists",
        ),
    ];
    for (body, status, code) in refused {
        let (got, answer) = m
            .call(
                &owner.client,
                Method::POST,
                "/api/agents",
                Some(body.clone()),
            )
            .await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(error_code(&answer), code, "{body}");
    }
    let (_, list) = m
        .call(&owner.client, Method::GET, "/api/agents", None)
        .await;
    assert_eq!(agent_names(&list), ["builder", "nightly-sync"]);

    // Names are unique per owner only.
    let (theirs, _) = m
        .register(&m.admin, "builder", "agent", &["users:read"])
        .await;
    assert_ne!(theirs["id"], agent["id"]);
}

async fn agents_belong_to_their_owner_and_a_manager_sees_them_all(backend: Backend) {
    let m = machines(backend).await;
    m.make_role("reader", &["users:read"]).await;
    let alice = m.person().await;
    m.set_roles(&alice, &["reader"]).await;
    let bob = m.person().await;
    m.set_roles(&bob, &["reader"]).await;
    let (alices, _) = m
        .register(&alice.client, "alices-agent", "agent", &["users:read"])
        .await;
    let (bobs, bobs_key) = m
        .register(&bob.client, "bobs-agent", "service", &["users:read"])
        .await;

    let (_, list) = m
        .call(&alice.client, Method::GET, "/api/agents", None)
        .await;
    assert_eq!(agent_names(&list), ["alices-agent"]);
    let (_, list) = m.call(&bob.client, Method::GET, "/api/agents", None).await;
    assert_eq!(agent_names(&list), ["bobs-agent"]);

    // Bob's agent is no business of Alice's: as if it did not exist.
    let bobs_path = agent_path(&bobs);
    let bobs_key_id = bobs["keys"][0]["id"].as_str().unwrap();
    let not_hers: [(Method, String, Option<Value>); 7] = [
        (Method::GET, bobs_path.clone(), None),
        (
            Method::PATCH,
            bobs_path.clone(),
            Some(json!({ "disabled": true })),
        ),
        (Method::DELETE, bobs_path.clone(), None),
        (Method::GET, format!("{bobs_path}/permissions"), None),
        (
            Method::PUT,
            format!("{bobs_path}/permissions"),
            Some(json!({ "permissions": [] })),
        ),
        (
            Method::POST,
            format!("{bobs_path}/keys"),
            Some(json!({ "name": "hers" })),
        ),
        (
            Method::DELETE,
            format!("{bobs_path}/keys/{bobs_key_id}"),
            None,
        ),
    ];
    for (method, path, body) in not_hers {
        let (status, answer) = m.call(&alice.client, method.clone(), &path, body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }
    let (status, intact) = m.call(&bob.client, Method::GET, &bobs_path, None).await;
    assert_eq!(status, 200);
    assert_eq!(intact["disabled"], false);
    assert_eq!(intact["permissions"], json!(["users:read"]));
    assert_eq!(intact["keys"].as_array().unwrap().len(), 1);
    assert_eq!(m.agent_token_answer(&bobs_key, None).await.0, 200);

    // Holders of agents:manage see and manage every one.
    let (_, list) = m.as_admin(Method::GET, "/api/agents", None).await;
    assert_eq!(agent_names(&list), ["alices-agent", "bobs-agent"]);
    let manager = m.person_with("agent-manager", &["agents:manage"]).await;
    let (status, list) = m
        .call(&manager.client, Method::GET, "/api/agents", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(agent_names(&list), ["alices-agent", "bobs-agent"]);
    let (status, read) = m.call(&manager.client, Method::GET, &bobs_path, None).await;
    assert_eq!(status, 200);
    assert_eq!(read["owner_id"], bob.id.as_str());
    let (status, changed) = m
        .call(
            &manager.client,
            Method::PATCH,
            &bobs_path,
            Some(json!({ "description": "Reviewed" })),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["description"], "Reviewed");
    let (status, _) = m
        .call(&manager.client, Method::DELETE, &agent_path(&alices), None)
        .await;
    assert_eq!(status, 204);
    let (_, list) = m
        .call(&alice.client, Method::GET, "/api/agents", None)
        .await;
    assert_eq!(agent_names(&list), Vec::<String>::new());
    // A plain person sees only their own: none.
    let plain = m.person().await;
    let (status, list) = m
        .call(&plain.client, Method::GET, "/api/agents", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["agents"], json!([]));
}

async fn an_agent_reads_its_own_permissions_and_its_owner_changes_them(backend: Backend) {
    let m = machines(backend).await;
    let owner = m
        .person_with("helper-owner", &["users:read", "audit:read"])
        .await;
    let (agent, key) = m
        .register(&owner.client, "reader", "agent", &["users:read"])
        .await;
    let path = format!("{}/permissions", agent_path(&agent));
    let expected = json!({ "permissions": ["users:read"], "effective": ["users:read"] });

    let (status, read) = m.call(&owner.client, Method::GET, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(read, expected);
    for how in BOTH_WAYS {
        let (status, read) = m.with_key(how, Method::GET, &path, &key, None).await;
        assert_eq!(status, 200, "{how:?}");
        assert_eq!(read, expected);
    }
    let token = m.agent_token(&key).await;
    let (status, read) = m.with_token(Method::GET, &path, &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(read, expected);
    let (status, read) = m.as_admin(Method::GET, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(read, expected);

    // The agent cannot change its own.
    for how in BOTH_WAYS {
        let (status, answer) = m
            .with_key(
                how,
                Method::PUT,
                &path,
                &key,
                Some(json!({ "permissions": ["users:read", "audit:read"] })),
            )
            .await;
        assert_eq!(status, 403, "{how:?}: {answer}");
        assert_eq!(error_code(&answer), "forbidden");
    }
    let (status, answer) = m
        .with_token(
            Method::PUT,
            &path,
            &token,
            Some(json!({ "permissions": ["users:read", "audit:read"] })),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(error_code(&answer), "forbidden");

    // Its owner can, within what the owner holds.
    let (status, answer) = m
        .call(
            &owner.client,
            Method::PUT,
            &path,
            Some(json!({ "permissions": ["users:fly"] })),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(error_code(&answer), "invalid_permission");
    let (status, changed) = m
        .call(
            &owner.client,
            Method::PUT,
            &path,
            Some(json!({ "permissions": ["users:read", "audit:read"] })),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        names(&changed["permissions"]),
        sorted(&["users:read", "audit:read"])
    );
    assert_eq!(
        names(&changed["effective"]),
        sorted(&["users:read", "audit:read"])
    );
    let (_, read) = m
        .with_key(KeyIn::Header, Method::GET, &path, &key, None)
        .await;
    assert_eq!(read, changed);
    let (status, body) = m.agent_token_answer(&key, None).await;
    assert_eq!(status, 200);
    assert_eq!(names(&body["scope"]), sorted(&["users:read", "audit:read"]));
    let (_, detail) = m
        .call(&owner.client, Method::GET, &agent_path(&agent), None)
        .await;
    assert_eq!(
        names(&detail["permissions"]),
        sorted(&["users:read", "audit:read"])
    );

    let (status, narrowed) = m
        .call(
            &owner.client,
            Method::PUT,
            &path,
            Some(json!({ "permissions": [] })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(narrowed, json!({ "permissions": [], "effective": [] }));
}

async fn an_agent_never_holds_more_than_its_owner_and_a_demoted_owner_shrinks_it(backend: Backend) {
    let m = machines(backend).await;
    m.make_role("reader", &["users:read"]).await;
    m.make_role("auditor", &["audit:read"]).await;
    let owner = m.person().await;
    m.set_roles(&owner, &["reader", "auditor"]).await;
    let both = ["users:read", "audit:read"];

    let (status, answer) = m
        .call(
            &owner.client,
            Method::POST,
            "/api/agents",
            Some(json!({ "name": "greedy", "kind": "agent", "permissions": ["users:read", "users:write"] })),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(error_code(&answer), "forbidden");
    let (agent, key) = m.register(&owner.client, "helper", "agent", &both).await;
    let id = agent["id"].as_str().unwrap().to_owned();
    let path = format!("/api/agents/{id}/permissions");

    // Not more than the owner, whoever asks: the owner, or an administrator.
    for client in [&owner.client, &m.admin] {
        for wanted in [
            json!(["users:write"]),
            json!(["users:read", "agents:manage"]),
        ] {
            let (status, answer) = m
                .call(
                    client,
                    Method::PUT,
                    &path,
                    Some(json!({ "permissions": wanted })),
                )
                .await;
            assert_eq!(status, 403, "{wanted}: {answer}");
            assert_eq!(error_code(&answer), "forbidden");
        }
    }
    let (_, read) = m.call(&owner.client, Method::GET, &path, None).await;
    assert_eq!(names(&read["permissions"]), sorted(&both));
    assert_eq!(names(&read["effective"]), sorted(&both));
    let token = m.client_credentials(&id, &key, &[]).await;
    assert_eq!(names(&token["scope"]), sorted(&both));
    let claims = jwt_claims(token["access_token"].as_str().unwrap());
    assert_eq!(names(&claims["permissions"]), sorted(&both));
    let before = token["access_token"].as_str().unwrap().to_owned();

    // The administrator takes `auditor` away from the owner.
    m.set_roles(&owner, &["reader"]).await;
    let (status, read) = m.call(&owner.client, Method::GET, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(names(&read["permissions"]), sorted(&both), "as set");
    assert_eq!(read["effective"], json!(["users:read"]));
    let token = m.client_credentials(&id, &key, &[]).await;
    assert_eq!(token["scope"], "users:read");
    let claims = jwt_claims(token["access_token"].as_str().unwrap());
    assert_eq!(claims["permissions"], json!(["users:read"]));
    let (_, body) = m.agent_token_answer(&key, None).await;
    assert_eq!(body["scope"], "users:read");
    let refused = m
        .oauth_token(
            &[
                ("grant_type", "client_credentials"),
                ("scope", "audit:read"),
            ],
            Some((&id, &key)),
        )
        .await;
    let (status, body) = crate::machines::answer(refused).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_scope");
    let (status, answer) = m
        .call(
            &owner.client,
            Method::PUT,
            &path,
            Some(json!({ "permissions": both })),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(m.lookup_with_key(&key, &owner.id).await, 200);

    // And `reader` too: the agent may read no user, with its key or with
    // the token it got before (which still verifies, but whose scope is
    // capped by what its owner holds now), on its next use.
    m.set_roles(&owner, &[]).await;
    within_a_second(|| async { m.lookup_with_key(&key, &owner.id).await == 403 }).await;
    let (_, read) = m.call(&owner.client, Method::GET, &path, None).await;
    assert_eq!(read["effective"], json!([]));
    within_a_second(|| async {
        let (status, _) = m
            .with_token(Method::GET, &lookup_path(&owner.id), &before, None)
            .await;
        status == 403
    })
    .await;
}

async fn disabling_an_agent_stops_its_keys_and_tokens_within_a_second(backend: Backend) {
    let m = machines(backend).await;
    let owner = m.person_with("reader", &["users:read"]).await;
    let (agent, key) = m
        .register(&owner.client, "switchable", "agent", &["users:read"])
        .await;
    let id = agent["id"].as_str().unwrap().to_owned();
    let lookup = lookup_path(&owner.id);
    let from_agents = m.agent_token(&key).await;
    let from_oauth = m.client_credentials(&id, &key, &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for token in [&from_agents, &from_oauth] {
        for _ in 0..2 {
            assert_eq!(m.with_token(Method::GET, &lookup, token, None).await.0, 200);
        }
    }
    let stopped = || async {
        let (token_status, token_body) = m.agent_token_answer(&key, None).await;
        let oauth = answer(
            m.oauth_token(&[("grant_type", "client_credentials")], Some((&id, &key)))
                .await,
        )
        .await;
        token_status == 401
            && error_code(&token_body) == "unauthenticated"
            && oauth.0 == 401
            && oauth.1["error"] == "invalid_client"
            && m.lookup_with_key(&key, &owner.id).await == 401
            && m.with_token(Method::GET, &lookup, &from_agents, None)
                .await
                .0
                == 401
            && m.with_token(Method::GET, &lookup, &from_oauth, None)
                .await
                .0
                == 401
    };

    let (status, changed) = m
        .call(
            &owner.client,
            Method::PATCH,
            &agent_path(&agent),
            Some(json!({ "disabled": true, "description": "Paused" })),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["disabled"], true);
    assert_eq!(changed["description"], "Paused");
    within_a_second(stopped).await;

    // Enabled again: its key works again.
    let (status, changed) = m
        .call(
            &owner.client,
            Method::PATCH,
            &agent_path(&agent),
            Some(json!({ "disabled": false })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(changed["disabled"], false);
    assert_eq!(changed["description"], "Paused");
    within_a_second(|| async { m.agent_token_answer(&key, None).await.0 == 200 }).await;
    let fresh = m.agent_token(&key).await;
    assert_eq!(
        m.with_token(Method::GET, &lookup, &fresh, None).await.0,
        200
    );

    // Disabled by another writer (another replica, an operator's SQL).
    let changed = m
        .app
        .sql
        .execute("UPDATE service_accounts SET disabled = (1 = 1) WHERE name = 'switchable'")
        .await
        .unwrap();
    assert_eq!(changed, 1);
    within_a_second(|| async {
        m.agent_token_answer(&key, None).await.0 == 401
            && m.with_token(Method::GET, &lookup, &fresh, None).await.0 == 401
    })
    .await;
}

async fn a_deleted_agent_is_gone_with_its_keys_and_tokens(backend: Backend) {
    let m = machines(backend).await;
    let owner = m.person_with("reader", &["users:read"]).await;
    let (agent, key) = m
        .register(&owner.client, "short-lived", "service", &["users:read"])
        .await;
    let (kept, kept_key) = m
        .register(&owner.client, "kept", "service", &["users:read"])
        .await;
    let lookup = lookup_path(&owner.id);
    let token = m.agent_token(&key).await;
    for _ in 0..2 {
        assert_eq!(
            m.with_token(Method::GET, &lookup, &token, None).await.0,
            200
        );
    }
    let (status, _) = m
        .call(&owner.client, Method::DELETE, &agent_path(&agent), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = m
        .call(&owner.client, Method::GET, &agent_path(&agent), None)
        .await;
    assert_eq!(status, 404);
    within_a_second(|| async {
        m.agent_token_answer(&key, None).await.0 == 401
            && m.with_token(Method::GET, &lookup, &token, None).await.0 == 401
    })
    .await;
    let (status, _) = m
        .call(&owner.client, Method::DELETE, &agent_path(&agent), None)
        .await;
    assert_eq!(status, 404, "gone already");
    let unknown = format!("/api/agents/{}", uuid::Uuid::new_v4());
    let (status, _) = m.call(&owner.client, Method::DELETE, &unknown, None).await;
    assert_eq!(status, 404);
    let (_, list) = m
        .call(&owner.client, Method::GET, "/api/agents", None)
        .await;
    assert_eq!(agent_names(&list), ["kept"]);
    let keys: i64 = m.app.sql.scalar("SELECT count(*) FROM api_keys", &[]).await;
    assert_eq!(keys, 1, "the deleted agent's key went with it");
    assert_eq!(m.agent_token_answer(&kept_key, None).await.0, 200);
    assert_eq!(kept["name"], "kept");
}

async fn keys_rotate_with_at_most_two_live(backend: Backend) {
    let m = machines(backend).await;
    let owner = m.person_with("reader", &["users:read"]).await;
    let (agent, first) = m
        .register(&owner.client, "rotating", "agent", &["users:read"])
        .await;
    let id = agent["id"].as_str().unwrap().to_owned();
    let keys_path = format!("{}/keys", agent_path(&agent));
    let first_id = agent["keys"][0]["id"].as_str().unwrap().to_owned();
    let start = now(&m.app);

    let (status, made) = m
        .call(
            &owner.client,
            Method::POST,
            &keys_path,
            Some(json!({ "name": "next" })),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let second = made["key"].as_str().unwrap().to_owned();
    let second_id = made["api_key"]["id"].as_str().unwrap().to_owned();
    assert!(has_key_shape(&second) && second.starts_with("pcl_sk_"));
    assert_ne!(second, first);
    assert_eq!(made["api_key"]["kind"], "sk");
    assert_eq!(made["api_key"]["name"], "next");
    assert_eq!(made["api_key"]["prefix"], second[..12]);
    assert!(same_moment(
        time(&made["api_key"]["expires_at"]),
        start + chrono::Duration::days(90)
    ));

    // Both work during the switch, for both token endpoints.
    for key in [&first, &second] {
        assert_eq!(m.agent_token_answer(key, None).await.0, 200);
        m.client_credentials(&id, key, &[]).await;
    }
    let (_, detail) = m
        .call(&owner.client, Method::GET, &agent_path(&agent), None)
        .await;
    let mut live: Vec<&str> = detail["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    live.sort_unstable();
    let mut expected = vec![first_id.as_str(), second_id.as_str()];
    expected.sort_unstable();
    assert_eq!(live, expected);
    let text = detail.to_string();
    assert!(!text.contains(&first) && !text.contains(&second));

    let (status, answer) = m
        .call(
            &owner.client,
            Method::POST,
            &keys_path,
            Some(json!({ "name": "third" })),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(error_code(&answer), "key_limit");

    // The old one revoked: it stops, the new one carries on.
    let (status, _) = m
        .call(
            &owner.client,
            Method::DELETE,
            &format!("{keys_path}/{first_id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(m.agent_token_answer(&first, None).await.0, 401);
    let refused = answer_of(&m, &id, &first).await;
    assert_eq!(refused.0, 401);
    assert_eq!(refused.1["error"], "invalid_client");
    assert_eq!(m.agent_token_answer(&second, None).await.0, 200);
    let (_, detail) = m
        .call(&owner.client, Method::GET, &agent_path(&agent), None)
        .await;
    assert_eq!(detail["keys"].as_array().unwrap().len(), 1);
    assert_eq!(detail["keys"][0]["id"], second_id.as_str());
    let (status, _) = m
        .call(
            &owner.client,
            Method::DELETE,
            &format!("{keys_path}/{first_id}"),
            None,
        )
        .await;
    assert_eq!(status, 404, "revoked already");
    let (status, _) = m
        .call(
            &owner.client,
            Method::DELETE,
            &format!("{keys_path}/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // Room for the next rotation.
    let (status, made) = m
        .call(&owner.client, Method::POST, &keys_path, Some(json!({})))
        .await;
    assert_eq!(status, 201, "{made}");
    let third = made["key"].as_str().unwrap().to_owned();
    assert_eq!(m.agent_token_answer(&third, None).await.0, 200);
}

/// `POST /oauth2/token` (client credentials, Basic) as (status, body).
async fn answer_of(m: &Machines, id: &str, key: &str) -> (reqwest::StatusCode, Value) {
    answer(
        m.oauth_token(&[("grant_type", "client_credentials")], Some((id, key)))
            .await,
    )
    .await
}

async fn managing_agents_takes_a_person(backend: Backend) {
    let m = machines(backend).await;
    let (agent, key) = m.admin_agent(&["users:read"]).await;
    let token = m.agent_token(&key).await;
    let (_, personal) = m.admin_key(&ALL_PERMISSIONS).await;
    let path = agent_path(&agent);
    let key_id = agent["keys"][0]["id"].as_str().unwrap();
    let management: [(Method, String, Option<Value>); 7] = [
        (Method::GET, "/api/agents".into(), None),
        (
            Method::POST,
            "/api/agents".into(),
            Some(json!({ "name": "made-by-a-machine", "kind": "agent", "permissions": [] })),
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({ "disabled": true })),
        ),
        (
            Method::PUT,
            format!("{path}/permissions"),
            Some(json!({ "permissions": [] })),
        ),
        (
            Method::POST,
            format!("{path}/keys"),
            Some(json!({ "name": "made-by-a-machine" })),
        ),
        (Method::DELETE, format!("{path}/keys/{key_id}"), None),
        (Method::DELETE, path.clone(), None),
    ];
    for (method, path, body) in &management {
        for credential in [&key, &personal] {
            for how in BOTH_WAYS {
                let (status, answer) = m
                    .with_key(how, method.clone(), path, credential, body.clone())
                    .await;
                assert_eq!(
                    status,
                    403,
                    "{how:?} {}… {method} {path}: {answer}",
                    &credential[..7]
                );
                assert_eq!(error_code(&answer), "forbidden");
            }
        }
        let (status, answer) = m
            .with_token(method.clone(), path, &token, body.clone())
            .await;
        assert_eq!(status, 403, "token {method} {path}: {answer}");
        assert_eq!(error_code(&answer), "forbidden");
    }
    // Nothing changed.
    let (status, detail) = m.as_admin(Method::GET, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(detail["disabled"], false);
    assert_eq!(detail["permissions"], json!(["users:read"]));
    assert_eq!(detail["keys"].as_array().unwrap().len(), 1);
    let (_, list) = m.as_admin(Method::GET, "/api/agents", None).await;
    assert_eq!(list["agents"].as_array().unwrap().len(), 1);
    assert_eq!(m.agent_token_answer(&key, None).await.0, 200);
}

async fn the_seed_paths_register_issue_tokens_and_read_and_change_permissions(backend: Backend) {
    let m = machines(backend).await;
    let owner = m
        .person_with("helper-owner", &["users:read", "audit:read"])
        .await;
    let (status, made) = m
        .call(
            &owner.client,
            Method::POST,
            "/agent/register",
            Some(json!({ "name": "seed-agent", "kind": "agent", "permissions": ["users:read"] })),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap().to_owned();
    assert!(has_key_shape(&key) && key.starts_with("pcl_sk_"));
    let id = made["agent"]["id"].as_str().unwrap().to_owned();
    assert_eq!(made["agent"]["name"], "seed-agent");
    assert_eq!(made["agent"]["owner_id"], owner.id.as_str());

    for how in BOTH_WAYS {
        let (status, body) = m
            .with_key(how, Method::POST, "/agent/token", &key, None)
            .await;
        assert_eq!(status, 200, "{how:?}: {body}");
        assert_eq!(body["token_type"], "Bearer");
        let claims = jwt_claims(body["access_token"].as_str().unwrap());
        assert_eq!(claims["sub"], id.as_str());
        let (status, own) = m
            .with_key(how, Method::GET, "/agent/permissions", &key, None)
            .await;
        assert_eq!(status, 200, "{how:?}: {own}");
        assert_eq!(
            own,
            json!({ "permissions": ["users:read"], "effective": ["users:read"] })
        );
    }
    let seed_path = format!("/agent/permissions?id={id}");
    let (status, read) = m.call(&owner.client, Method::GET, &seed_path, None).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["permissions"], json!(["users:read"]));
    let (status, changed) = m
        .call(
            &owner.client,
            Method::PUT,
            &seed_path,
            Some(json!({ "permissions": ["users:read", "audit:read"] })),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        names(&changed["effective"]),
        sorted(&["users:read", "audit:read"])
    );
    let (_, read) = m
        .call(
            &owner.client,
            Method::GET,
            &format!("/api/agents/{id}/permissions"),
            None,
        )
        .await;
    assert_eq!(read, changed);
    let (status, answer) = m
        .call(
            &owner.client,
            Method::PUT,
            &seed_path,
            Some(json!({ "permissions": ["users:write"] })),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(error_code(&answer), "forbidden");
    let (status, answer) = m
        .with_key(
            KeyIn::Header,
            Method::PUT,
            &seed_path,
            &key,
            Some(json!({ "permissions": [] })),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    // The seed's agent is an ordinary one.
    let (_, list) = m
        .call(&owner.client, Method::GET, "/api/agents", None)
        .await;
    assert_eq!(agent_names(&list), ["seed-agent"]);
}

async fn the_agent_token_endpoint_issues_short_lived_machine_tokens(backend: Backend) {
    let m = machines(backend).await;
    let owner = m
        .person_with("helper-owner", &["users:read", "audit:read"])
        .await;
    let both = ["users:read", "audit:read"];
    let (agent, key) = m.register(&owner.client, "tokened", "agent", &both).await;
    let (service, service_key) = m
        .register(&owner.client, "svc", "service", &["users:read"])
        .await;
    let id = agent["id"].as_str().unwrap();
    let issued_at = now(&m.app).timestamp();

    let (status, body) = m.agent_token_answer(&key, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(names(&body["scope"]), sorted(&both));
    assert!(body.get("refresh_token").is_none(), "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_header(token)["typ"], "at+jwt");
    let claims = jwt_claims(token);
    assert_eq!(claims["sub"], id);
    assert_eq!(claims["client_id"], id);
    assert_eq!(claims["kind"], "agent");
    assert_eq!(claims["role"], "agent");
    assert_eq!(claims["roles"], json!([]));
    assert_eq!(claims["aud"], "portcullis");
    assert_eq!(claims["iss"], m.app.address.as_str());
    assert_eq!(claims["sid"], agent["keys"][0]["id"]);
    assert_eq!(names(&claims["scope"]), sorted(&both));
    assert_eq!(names(&claims["permissions"]), sorted(&both));
    assert!((claims["iat"].as_i64().unwrap() - issued_at).abs() <= 1);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    let (status, user) = m
        .with_token(Method::GET, &lookup_path(&owner.id), token, None)
        .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["email"], owner.email.as_str());

    // Asking for less, and for another service's audience.
    for how in BOTH_WAYS {
        let (status, body) = m
            .with_key(
                how,
                Method::POST,
                "/api/agents/token",
                &key,
                Some(json!({ "scope": "users:read", "resource": "https://api.example.com" })),
            )
            .await;
        assert_eq!(status, 200, "{how:?}: {body}");
        assert_eq!(body["scope"], "users:read");
        let claims = jwt_claims(body["access_token"].as_str().unwrap());
        assert_eq!(claims["scope"], "users:read");
        assert_eq!(claims["permissions"], json!(["users:read"]));
        assert_eq!(claims["aud"], "https://api.example.com");
    }
    let (status, body) = m.agent_token_answer(&service_key, None).await;
    assert_eq!(status, 200);
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["kind"], "service");
    assert_eq!(claims["role"], "service");
    assert_eq!(claims["sub"], service["id"]);

    // No key, or a person's credentials, get no machine token.
    let (status, body) = m
        .with_token(Method::POST, "/api/agents/token", "", None)
        .await;
    assert_eq!(status, 401, "{body}");
    let (_, personal) = m.admin_key(&["users:read"]).await;
    let (status, body) = m.agent_token_answer(&personal, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(error_code(&body), "unauthenticated");
    // A person's own access token is no agent's key: refused as no key.
    let session = m.app.bearer_login(&owner.email).await;
    let (status, body) = m
        .with_token(Method::POST, "/api/agents/token", &session.access, None)
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(error_code(&body), "unauthenticated");
}

/// Two real servers on one PostgreSQL database: an agent disabled on
/// replica A has its key and its token refused on replica B within 1 s.
#[tokio::test]
async fn an_agent_disabled_on_one_replica_is_refused_on_the_other_within_a_second() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let settings = [
        ("PORTCULLIS_BOOTSTRAP_ADMIN", ADMIN),
        ("PORTCULLIS_PUBLIC_URL", "http://auth.example.com"),
    ];
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
    let lookup = b.url(&format!(
        "/api/users/{}",
        me["user"]["id"].as_str().unwrap()
    ));
    let (status, made) = answer(
        browser
            .post(a.url("/api/agents"))
            .json(&json!({ "name": "replicated", "kind": "agent", "permissions": ["users:read"] }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap().to_owned();
    let agent_url = a.url(&format!(
        "/api/agents/{}",
        made["agent"]["id"].as_str().unwrap()
    ));
    let token_on = |url: String, key: String| async move {
        Client::new()
            .post(url)
            .header("x-api-key", key)
            .send()
            .await
            .unwrap()
    };
    let issued: Value = token_on(a.url("/api/agents/token"), key.clone())
        .await
        .json()
        .await
        .unwrap();
    let token = issued["access_token"].as_str().unwrap().to_owned();
    let statuses_on_b = || {
        let (lookup, token, key, url) = (
            lookup.clone(),
            token.clone(),
            key.clone(),
            b.url("/api/agents/token"),
        );
        async move {
            let by_token = Client::new()
                .get(lookup)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status();
            let by_key = token_on(url, key).await.status();
            (by_token.as_u16(), by_key.as_u16())
        }
    };
    // B knows both.
    assert_eq!(statuses_on_b().await, (200, 200));
    assert_eq!(statuses_on_b().await, (200, 200));

    let disabled = browser
        .patch(agent_url)
        .json(&json!({ "disabled": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    within_a_second(|| {
        let statuses = statuses_on_b();
        async move { statuses.await == (401, 401) }
    })
    .await;
}
