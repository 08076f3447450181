//! The admin JSON API under /api/admin, and deleting one's own account.

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    cookie_value, error_code, jwt_claims, set_cookie, set_cookies, spawn_app_with, Backend,
    TestApp, ACCESS, GOOD_PASSWORD,
};
use crate::on_both_backends;

on_both_backends!(
    admin_endpoints_are_401_signed_out_and_403_without_the_permission,
    each_permission_opens_its_own_endpoints_only,
    users_are_found_by_prefix_and_paged_newest_first_without_repeats,
    disabling_a_user_ends_their_sessions_at_once_and_enabling_lets_them_back,
    roles_and_attributes_reach_the_token_and_older_tokens_are_stale,
    the_last_enabled_admin_cannot_be_demoted_disabled_or_deleted,
    deleting_a_user_keeps_their_audit_events_under_their_id,
    signing_a_user_out_everywhere_ends_every_session,
    roles_are_created_changed_and_deleted_but_built_ins_stay,
    admin_actions_are_audited_with_the_actor_and_shown_to_the_user,
    the_audit_log_is_filtered_and_paged,
    bad_admin_input_gets_a_clear_400_and_changes_nothing,
    a_user_deletes_their_own_account_with_the_current_password,
    partial_administrators_cannot_reach_beyond_their_own_permissions,
);

const ADMIN: &str = "admin@example.com";

/// An app whose bootstrap administrator is signed in on `admin`.
struct Console {
    app: TestApp,
    admin: Client,
}

async fn console(backend: Backend) -> Console {
    let app = spawn_app_with(backend, &[("PORTCULLIS_BOOTSTRAP_ADMIN", ADMIN)]).await;
    let admin = app.new_client();
    let response = app
        .post_json(
            &admin,
            "/api/auth/signup",
            &json!({ "email": ADMIN, "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), 201);
    Console { app, admin }
}

impl Console {
    async fn call(
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
        let response = request.send().await.expect("request failed");
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(&self.admin, method, path, body).await
    }

    /// A new user signed in on their own client: (client, email, id).
    async fn user(&self) -> (Client, String, String) {
        let client = self.app.new_client();
        let email = self.app.signup(&client).await;
        let me: Value = self.app.me(&client).await.json().await.unwrap();
        (client, email, me["user"]["id"].as_str().unwrap().to_owned())
    }

    async fn id_of(&self, client: &Client) -> String {
        let me: Value = self.app.me(client).await.json().await.unwrap();
        me["user"]["id"].as_str().unwrap().to_owned()
    }
}

/// Every admin endpoint with a body it would take.
fn endpoints(id: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/api/admin/users".into(), None),
        (Method::GET, format!("/api/admin/users/{id}"), None),
        (
            Method::PATCH,
            format!("/api/admin/users/{id}"),
            Some(json!({ "disabled": true })),
        ),
        (
            Method::POST,
            format!("/api/admin/users/{id}/sign-out"),
            None,
        ),
        (Method::DELETE, format!("/api/admin/users/{id}"), None),
        (Method::GET, "/api/admin/audit".into(), None),
        (Method::GET, "/api/admin/roles".into(), None),
        (
            Method::POST,
            "/api/admin/roles".into(),
            Some(json!({ "name": "support", "permissions": [] })),
        ),
        (
            Method::PUT,
            "/api/admin/roles/support".into(),
            Some(json!({ "permissions": [] })),
        ),
        (Method::DELETE, "/api/admin/roles/support".into(), None),
    ]
}

async fn admin_endpoints_are_401_signed_out_and_403_without_the_permission(backend: Backend) {
    let c = console(backend).await;
    let (user, _, id) = c.user().await;
    let admin_id = c.id_of(&c.admin).await;
    for (method, path, body) in endpoints(&admin_id) {
        let (status, answer) = c
            .call(&c.app.new_client(), method.clone(), &path, body.clone())
            .await;
        assert_eq!(status, 401, "{method} {path} signed out");
        assert_eq!(error_code(&answer), "unauthenticated");
        let (status, answer) = c.call(&user, method.clone(), &path, body).await;
        assert_eq!(status, 403, "{method} {path} as a plain user");
        assert_eq!(answer["error"], "forbidden", "{method} {path}");
    }
    // Nothing changed: the admin is still enabled and the user still exists.
    let (status, _) = c
        .admin(Method::GET, &format!("/api/admin/users/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(c.app.me(&c.admin).await.status(), 200);
}

/// A role with one permission opens exactly what that permission covers.
async fn each_permission_opens_its_own_endpoints_only(backend: Backend) {
    let c = console(backend).await;
    let (_, _, target) = c.user().await;
    // Which of `endpoints` each permission lets through, by index.
    let cases: [(&str, &[usize]); 6] = [
        ("users:read", &[0, 1, 6]),
        ("users:write", &[4]),
        ("users:disable", &[2]),
        ("sessions:revoke", &[3]),
        ("roles:write", &[7, 8, 9]),
        ("audit:read", &[5]),
    ];
    for (permission, opens) in cases {
        let role = format!("only-{}", permission.replace(':', "-"));
        let (status, _) = c
            .admin(
                Method::POST,
                "/api/admin/roles",
                Some(json!({ "name": role, "permissions": [permission] })),
            )
            .await;
        assert_eq!(status, 201, "{role}");
        let (holder, _, holder_id) = c.user().await;
        let (status, _) = c
            .admin(
                Method::PATCH,
                &format!("/api/admin/users/{holder_id}"),
                Some(json!({ "roles": [role] })),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(c.app.refresh(&holder).await.status(), 200);

        for (index, (method, path, body)) in endpoints(&target).into_iter().enumerate() {
            // Destructive calls are tried only where they are refused.
            if opens.contains(&index) && matches!(index, 2 | 4 | 9) {
                continue;
            }
            let body = body.map(|b| {
                if index == 7 {
                    json!({ "name": format!("made-by-{}", holder_id.get(..8).unwrap()), "permissions": [] })
                } else {
                    b
                }
            });
            let path = if matches!(index, 8 | 9) {
                format!("/api/admin/roles/{role}")
            } else {
                path
            };
            let (status, answer) = c.call(&holder, method.clone(), &path, body).await;
            if opens.contains(&index) {
                assert!(
                    status.is_success(),
                    "{permission}: {method} {path} got {status} {answer}"
                );
            } else {
                assert_eq!(status, 403, "{permission}: {method} {path} {answer}");
            }
        }
    }
}

async fn users_are_found_by_prefix_and_paged_newest_first_without_repeats(backend: Backend) {
    let c = console(backend).await;
    let mut made = Vec::new();
    for n in 0..5 {
        let email = format!("pager-{n}@example.com");
        let response = c
            .app
            .post_json(
                &c.app.new_client(),
                "/api/auth/signup",
                &json!({ "email": email, "password": GOOD_PASSWORD, "display_name": format!("Zed {n}") }),
            )
            .await;
        assert_eq!(response.status(), 201);
        c.app.clock.advance(std::time::Duration::from_millis(5));
        made.push(email);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/admin/users?q=PAGER&limit=2&cursor={cursor}"),
            None => "/api/admin/users?q=PAGER&limit=2".to_owned(),
        };
        let (status, page) = c.admin(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{page}");
        for user in page["users"].as_array().unwrap() {
            seen.push(user["email"].as_str().unwrap().to_owned());
        }
        // Sign-ups in between do not shift later pages.
        let _ = c
            .app
            .post_json(
                &c.app.new_client(),
                "/api/auth/signup",
                &json!({ "email": format!("pager-late-{pages}@example.com"), "password": GOOD_PASSWORD }),
            )
            .await;
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut newest_first = made.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    assert_eq!(pages, 3);

    // By display name, in any case; wildcards are plain characters.
    let (_, page) = c
        .admin(Method::GET, "/api/admin/users?q=zed%203", None)
        .await;
    assert_eq!(page["users"][0]["email"], "pager-3@example.com");
    assert_eq!(page["users"].as_array().unwrap().len(), 1);
    let (_, page) = c.admin(Method::GET, "/api/admin/users?q=%25", None).await;
    assert_eq!(page["users"].as_array().unwrap().len(), 0);
    // Never more than 100 a page.
    let (status, page) = c
        .admin(Method::GET, "/api/admin/users?limit=1000", None)
        .await;
    assert_eq!(status, 200);
    assert!(page["users"].as_array().unwrap().len() <= 100);
    // The admin shows with their role.
    let (_, page) = c
        .admin(Method::GET, "/api/admin/users?q=admin@", None)
        .await;
    assert_eq!(page["users"][0]["roles"], json!(["admin", "user"]));
}

async fn disabling_a_user_ends_their_sessions_at_once_and_enabling_lets_them_back(
    backend: Backend,
) {
    let c = console(backend).await;
    let (user, email, id) = c.user().await;
    assert_eq!(c.app.me(&user).await.status(), 200);

    let (status, detail) = c
        .admin(
            Method::PATCH,
            &format!("/api/admin/users/{id}"),
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["disabled"], true);
    assert_eq!(detail["sessions"], json!([]));

    assert_eq!(c.app.me(&user).await.status(), 401);
    assert_eq!(c.app.refresh(&user).await.status(), 401);
    let login = c
        .app
        .login(&c.app.new_client(), &email, GOOD_PASSWORD)
        .await;
    assert_eq!(login.status(), 401);

    let (status, _) = c
        .admin(
            Method::PATCH,
            &format!("/api/admin/users/{id}"),
            Some(json!({ "disabled": false })),
        )
        .await;
    assert_eq!(status, 200);
    let login = c
        .app
        .login(&c.app.new_client(), &email, GOOD_PASSWORD)
        .await;
    assert_eq!(login.status(), 200);
}

async fn roles_and_attributes_reach_the_token_and_older_tokens_are_stale(backend: Backend) {
    let c = console(backend).await;
    let (user, email, id) = c.user().await;
    let (status, _) = c
        .admin(
            Method::POST,
            "/api/admin/roles",
            Some(
                json!({ "name": "support", "description": "Helps", "permissions": ["users:read"] }),
            ),
        )
        .await;
    assert_eq!(status, 201);
    let (status, detail) = c
        .admin(
            Method::PATCH,
            &format!("/api/admin/users/{id}"),
            Some(json!({ "roles": ["support"], "attributes": { "team_id": "t-7", "organization_id": "o-1" } })),
        )
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["roles"], json!(["support", "user"]));
    assert_eq!(detail["permissions"], json!(["users:read"]));
    assert_eq!(detail["attributes"]["team_id"], "t-7");

    let stale = c.app.me(&user).await;
    assert_eq!(stale.status(), 401);
    let body: Value = stale.json().await.unwrap();
    assert_eq!(error_code(&body), "stale_authorization");

    let refreshed = c.app.refresh(&user).await;
    assert_eq!(refreshed.status(), 200);
    let claims = jwt_claims(&cookie_value(&set_cookie(&refreshed, ACCESS).unwrap()));
    assert_eq!(claims["roles"], json!(["support", "user"]));
    assert_eq!(claims["permissions"], json!(["users:read"]));
    assert_eq!(
        claims["attrs"],
        json!({ "organization_id": "o-1", "team_id": "t-7" })
    );
    assert_eq!(claims["role"], "user");

    let (status, _) = c.call(&user, Method::GET, "/api/admin/users", None).await;
    assert_eq!(status, 200);
    let (status, _) = c
        .call(
            &user,
            Method::PATCH,
            &format!("/api/admin/users/{id}"),
            Some(json!({ "roles": [] })),
        )
        .await;
    assert_eq!(status, 403);
    // A fresh sign-in carries the same.
    let login = c
        .app
        .login(&c.app.new_client(), &email, GOOD_PASSWORD)
        .await;
    let claims = jwt_claims(&cookie_value(&set_cookie(&login, ACCESS).unwrap()));
    assert_eq!(claims["attrs"]["team_id"], "t-7");
}

async fn the_last_enabled_admin_cannot_be_demoted_disabled_or_deleted(backend: Backend) {
    let c = console(backend).await;
    let me = c.id_of(&c.admin).await;
    let path = format!("/api/admin/users/{me}");
    for change in [json!({ "roles": [] }), json!({ "disabled": true })] {
        let (status, answer) = c.admin(Method::PATCH, &path, Some(change.clone())).await;
        assert_eq!(status, 409, "{change}");
        assert_eq!(error_code(&answer), "last_admin");
    }
    let (status, answer) = c.admin(Method::DELETE, &path, None).await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&answer), "last_admin");
    let (status, answer) = c
        .admin(
            Method::DELETE,
            "/api/auth/account",
            Some(json!({ "current_password": GOOD_PASSWORD })),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&answer), "last_admin");
    assert_eq!(c.app.me(&c.admin).await.status(), 200, "nothing changed");

    // With a second administrator, the first may step down.
    let (_, _, second) = c.user().await;
    let (status, _) = c
        .admin(
            Method::PATCH,
            &format!("/api/admin/users/{second}"),
            Some(json!({ "roles": ["admin"] })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, detail) = c
        .admin(Method::PATCH, &path, Some(json!({ "roles": [] })))
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail["roles"], json!(["user"]));
}

async fn deleting_a_user_keeps_their_audit_events_under_their_id(backend: Backend) {
    let c = console(backend).await;
    let (user, email, id) = c.user().await;
    let admin_id = c.id_of(&c.admin).await;

    let (status, _) = c
        .admin(Method::DELETE, &format!("/api/admin/users/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = c
        .admin(Method::GET, &format!("/api/admin/users/{id}"), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(c.app.me(&user).await.status(), 401);
    assert_eq!(
        c.app
            .login(&c.app.new_client(), &email, GOOD_PASSWORD)
            .await
            .status(),
        401
    );
    let (status, _) = c
        .admin(Method::DELETE, &format!("/api/admin/users/{id}"), None)
        .await;
    assert_eq!(status, 404, "gone already");

    let (_, page) = c
        .admin(Method::GET, &format!("/api/admin/audit?user={id}"), None)
        .await;
    let events: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["account_deleted", "signup"]);
    assert_eq!(page["events"][0]["actor_id"], json!(admin_id));
    assert!(
        !page.to_string().contains(&email),
        "the address is not kept"
    );
}

async fn signing_a_user_out_everywhere_ends_every_session(backend: Backend) {
    let c = console(backend).await;
    let (first, email, id) = c.user().await;
    let second = c.app.new_client();
    assert_eq!(
        c.app.login(&second, &email, GOOD_PASSWORD).await.status(),
        200
    );

    let (status, answer) = c
        .admin(
            Method::POST,
            &format!("/api/admin/users/{id}/sign-out"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["sessions_revoked"], 2);
    for client in [&first, &second] {
        assert_eq!(c.app.me(client).await.status(), 401);
        assert_eq!(c.app.refresh(client).await.status(), 401);
    }
    // The account itself is untouched.
    assert_eq!(
        c.app
            .login(&c.app.new_client(), &email, GOOD_PASSWORD)
            .await
            .status(),
        200
    );
    let (status, _) = c
        .admin(
            Method::POST,
            "/api/admin/users/00000000-0000-0000-0000-000000000000/sign-out",
            None,
        )
        .await;
    assert_eq!(status, 404);
}

async fn roles_are_created_changed_and_deleted_but_built_ins_stay(backend: Backend) {
    let c = console(backend).await;
    let role = |name: &str, permissions: Value| json!({ "name": name, "permissions": permissions });
    let (status, created) = c
        .admin(
            Method::POST,
            "/api/admin/roles",
            Some(role("auditor", json!(["audit:read", "audit:read"]))),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["permissions"], json!(["audit:read"]));
    assert_eq!(created["built_in"], false);
    let (status, answer) = c
        .admin(
            Method::POST,
            "/api/admin/roles",
            Some(role("auditor", json!([]))),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&answer), "role_exists");

    let (user, _, id) = c.user().await;
    c.admin(
        Method::PATCH,
        &format!("/api/admin/users/{id}"),
        Some(json!({ "roles": ["auditor"] })),
    )
    .await;
    assert_eq!(c.app.refresh(&user).await.status(), 200);
    let (status, updated) = c
        .admin(
            Method::PUT,
            "/api/admin/roles/auditor",
            Some(json!({ "description": "Reads the log and users", "permissions": ["audit:read", "users:read"] })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["holders"], 1);
    // Its holders' tokens are stale: they refresh into the new permissions.
    assert_eq!(c.app.me(&user).await.status(), 401);
    assert_eq!(c.app.refresh(&user).await.status(), 200);
    let (status, _) = c.call(&user, Method::GET, "/api/admin/users", None).await;
    assert_eq!(status, 200);

    for (method, path, body) in [
        (
            Method::PUT,
            "/api/admin/roles/admin",
            Some(json!({ "permissions": [] })),
        ),
        (Method::DELETE, "/api/admin/roles/admin", None),
        (Method::DELETE, "/api/admin/roles/user", None),
    ] {
        let (status, answer) = c.admin(method.clone(), path, body).await;
        assert_eq!(status, 400, "{method} {path}");
        assert_eq!(error_code(&answer), "built_in_role");
    }
    let (_, listed) = c.admin(Method::GET, "/api/admin/roles", None).await;
    let names: Vec<&str> = listed["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "auditor", "user"]);
    assert_eq!(
        listed["roles"][0]["permissions"].as_array().unwrap().len(),
        7
    );
    assert_eq!(listed["catalogue"].as_array().unwrap().len(), 7);

    let (status, _) = c
        .admin(Method::DELETE, "/api/admin/roles/auditor", None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = c
        .admin(Method::DELETE, "/api/admin/roles/auditor", None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        c.app.me(&user).await.status(),
        401,
        "stale once its role went"
    );
    assert_eq!(c.app.refresh(&user).await.status(), 200);
    let (status, _) = c.call(&user, Method::GET, "/api/admin/users", None).await;
    assert_eq!(status, 403);
}

async fn admin_actions_are_audited_with_the_actor_and_shown_to_the_user(backend: Backend) {
    let c = console(backend).await;
    let (user, _, id) = c.user().await;
    let admin_id = c.id_of(&c.admin).await;
    c.admin(
        Method::PATCH,
        &format!("/api/admin/users/{id}"),
        Some(json!({ "display_name": "Renamed" })),
    )
    .await;

    let (_, page) = c
        .admin(
            Method::GET,
            &format!("/api/admin/audit?user={id}&type=user_updated"),
            None,
        )
        .await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor_id"], json!(admin_id));
    assert_eq!(events[0]["details"]["display_name"], true);

    let activity: Value = user
        .get(c.app.url("/api/auth/activity"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(activity["activity"][0]["event"], "user_updated");
    // The address and device were the administrator's, not the user's.
    assert_eq!(activity["activity"][0]["ip"], Value::Null);
    assert_eq!(activity["activity"][0]["device"], Value::Null);
}

async fn the_audit_log_is_filtered_and_paged(backend: Backend) {
    let c = console(backend).await;
    for _ in 0..3 {
        let (_, email, _) = c.user().await;
        c.app
            .login(&c.app.new_client(), &email, "wrong-password-here")
            .await;
    }
    let (_, failures) = c
        .admin(
            Method::GET,
            "/api/admin/audit?type=login&outcome=failure",
            None,
        )
        .await;
    assert_eq!(failures["events"].as_array().unwrap().len(), 3);

    let mut ids = Vec::new();
    let mut path = "/api/admin/audit?type=signup&limit=1".to_owned();
    loop {
        let (status, page) = c.admin(Method::GET, &path, None).await;
        assert_eq!(status, 200);
        for event in page["events"].as_array().unwrap() {
            ids.push(event["id"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(next) => path = format!("/api/admin/audit?type=signup&limit=1&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), 4, "the admin's sign-up and three more");
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    for bad in [
        "/api/admin/audit?user=nope",
        "/api/admin/audit?cursor=%%%",
        "/api/admin/audit?limit=x",
    ] {
        let (status, answer) = c.admin(Method::GET, bad, None).await;
        assert_eq!(status, 400, "{bad}: {answer}");
        assert!(answer["request_id"].is_string());
    }
}

async fn bad_admin_input_gets_a_clear_400_and_changes_nothing(backend: Backend) {
    let c = console(backend).await;
    let (_, _, id) = c.user().await;
    let path = format!("/api/admin/users/{id}");
    let too_many: serde_json::Map<String, Value> =
        (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
    for (body, code) in [
        (json!({ "roles": ["no-such-role"] }), "invalid_role"),
        (json!({ "roles": ["Bad Name"] }), "invalid_role"),
        (
            json!({ "attributes": { "Bad Key": "x" } }),
            "invalid_attributes",
        ),
        (json!({ "attributes": too_many }), "invalid_attributes"),
        (
            json!({ "attributes": { "big": "x".repeat(1100) } }),
            "invalid_attributes",
        ),
        (json!({ "display_name": "" }), "invalid_display_name"),
        (json!({ "disabled": "yes" }), "malformed_json"),
        (json!({ "unknown": 1 }), "malformed_json"),
    ] {
        let (status, answer) = c.admin(Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(error_code(&answer), code, "{body}");
    }
    let (_, detail) = c.admin(Method::GET, &path, None).await;
    assert_eq!(detail["roles"], json!(["user"]));
    assert_eq!(detail["attributes"], json!({}));
    let (status, answer) = c
        .admin(
            Method::POST,
            "/api/admin/roles",
            Some(json!({ "name": "x", "permissions": ["root"] })),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&answer), "invalid_permission");
    let (status, _) = c
        .admin(Method::GET, "/api/admin/users/not-an-id", None)
        .await;
    assert_eq!(status, 404);
    // A NUL, which PostgreSQL text cannot hold, in a search or filter term.
    for path in [
        "/api/admin/users?q=a%00b",
        "/api/admin/audit?type=a%00b",
        "/api/admin/audit?outcome=%01",
    ] {
        let (status, answer) = c.admin(Method::GET, path, None).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(error_code(&answer), "invalid_query", "{path}");
    }
}

async fn a_user_deletes_their_own_account_with_the_current_password(backend: Backend) {
    let c = console(backend).await;
    let (user, email, id) = c.user().await;
    let delete = |password: &str| {
        user.delete(c.app.url("/api/auth/account"))
            .json(&json!({ "current_password": password }))
            .send()
    };
    let refused = delete("not-the-password").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(c.app.me(&user).await.status(), 200);

    let deleted = delete(GOOD_PASSWORD).await.unwrap();
    assert_eq!(deleted.status(), 204);
    let cookies = set_cookies(&deleted);
    assert!(cookies.iter().any(|c| c.starts_with(ACCESS)), "{cookies:?}");
    assert!(deleted.headers().contains_key("clear-site-data"));
    assert_eq!(
        c.app
            .login(&c.app.new_client(), &email, GOOD_PASSWORD)
            .await
            .status(),
        401
    );
    let (status, _) = c
        .admin(Method::GET, &format!("/api/admin/users/{id}"), None)
        .await;
    assert_eq!(status, 404);
}

/// `users:write` or `roles:write` alone must not add up to everything: no
/// handing out permissions one lacks, no acting on an administrator.
async fn partial_administrators_cannot_reach_beyond_their_own_permissions(backend: Backend) {
    let c = console(backend).await;
    let admin_id = c.id_of(&c.admin).await;
    let (status, _) = c
        .admin(
            Method::POST,
            "/api/admin/roles",
            Some(json!({ "name": "manager", "permissions": ["users:read", "users:write", "users:disable", "sessions:revoke", "roles:write"] })),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = c
        .admin(
            Method::POST,
            "/api/admin/roles",
            Some(json!({ "name": "auditor", "permissions": ["audit:read"] })),
        )
        .await;
    assert_eq!(status, 201);
    let (manager, _, manager_id) = c.user().await;
    c.admin(
        Method::PATCH,
        &format!("/api/admin/users/{manager_id}"),
        Some(json!({ "roles": ["manager"] })),
    )
    .await;
    assert_eq!(c.app.refresh(&manager).await.status(), 200);
    let (_, _, plain) = c.user().await;

    let refused: Vec<(Method, String, Option<Value>)> = vec![
        // Granting admin, or a role with a permission the manager lacks.
        (
            Method::PATCH,
            format!("/api/admin/users/{manager_id}"),
            Some(json!({ "roles": ["manager", "admin"] })),
        ),
        (
            Method::PATCH,
            format!("/api/admin/users/{plain}"),
            Some(json!({ "roles": ["auditor"] })),
        ),
        // Defining one, or widening `user` (everyone's).
        (
            Method::POST,
            "/api/admin/roles".into(),
            Some(json!({ "name": "wider", "permissions": ["audit:read"] })),
        ),
        (
            Method::PUT,
            "/api/admin/roles/manager".into(),
            Some(json!({ "permissions": ["audit:read"] })),
        ),
        (
            Method::PUT,
            "/api/admin/roles/user".into(),
            Some(json!({ "permissions": ["users:read"] })),
        ),
        (Method::DELETE, "/api/admin/roles/auditor".into(), None),
        // Acting on an administrator.
        (
            Method::PATCH,
            format!("/api/admin/users/{admin_id}"),
            Some(json!({ "disabled": true })),
        ),
        (
            Method::POST,
            format!("/api/admin/users/{admin_id}/sign-out"),
            None,
        ),
        (Method::DELETE, format!("/api/admin/users/{admin_id}"), None),
    ];
    for (method, path, body) in refused {
        let (status, answer) = c.call(&manager, method.clone(), &path, body.clone()).await;
        assert_eq!(status, 403, "{method} {path} {body:?}: {answer}");
    }
    // Within reach it works.
    let (status, _) = c
        .call(
            &manager,
            Method::PATCH,
            &format!("/api/admin/users/{plain}"),
            Some(json!({ "roles": ["manager"] })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        c.app.me(&c.admin).await.status(),
        200,
        "the administrator is untouched"
    );
}
