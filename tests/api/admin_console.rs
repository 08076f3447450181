//! The admin console's pages and forms, as a browser without WASM meets
//! them: guarded on the server, and the forms plain form posts.

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, TestApp, GOOD_PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    the_console_is_guarded_on_the_server,
    roles_are_edited_by_plain_form_posts_with_permission_boxes,
    the_consoles_user_forms_work_as_plain_form_posts,
    deleting_ones_own_account_works_as_a_plain_form_post,
);

const ADMIN: &str = "console-admin@example.com";
const USER: &str = "console-user@example.com";

async fn signed_up(app: &TestApp, email: &str) -> Client {
    let client = app.new_client();
    let response = app
        .post_json(
            &client,
            "/api/auth/signup",
            &json!({ "email": email, "password": GOOD_PASSWORD, "display_name": "Console Person" }),
        )
        .await;
    assert_eq!(response.status(), 201);
    client
}

/// A page as a browser asks for it (leptos redirects only those).
async fn page(app: &TestApp, client: &Client, path: &str) -> (StatusCode, String) {
    let response = client
        .get(app.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, location.unwrap_or(response.text().await.unwrap()))
}

/// A form post as a browser sends it: no `Referer` (the site's
/// `Referrer-Policy: no-referrer`), so the server must know where to go
/// back to, which `back_to` checks.
async fn form_post(
    app: &TestApp,
    client: &Client,
    name: &str,
    back_to: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let response = client
        .post(app.url(&format!("/api/auth/ui/{name}")))
        .header("accept", "text/html")
        .header("origin", app.address.clone())
        .form(form)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location == back_to || location.starts_with(&app.url(&format!("{back_to}?"))),
        "{location} is not {back_to}"
    );
    response
}

async fn detail(app: &TestApp, admin: &Client, id: &str) -> Value {
    admin
        .get(app.url(&format!("/api/admin/users/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn user_id(app: &TestApp, client: &Client) -> String {
    let me: Value = app.me(client).await.json().await.unwrap();
    me["user"]["id"].as_str().unwrap().to_owned()
}

async fn the_console_is_guarded_on_the_server(backend: Backend) {
    let app = spawn_app_with(backend, &[("PORTCULLIS_BOOTSTRAP_ADMIN", ADMIN)]).await;
    let admin = signed_up(&app, ADMIN).await;
    let user = signed_up(&app, USER).await;
    let user_path = format!("/admin/users/{}", user_id(&app, &user).await);

    let (status, location) = page(&app, &app.new_client(), "/admin/roles").await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(location, "/login?next=/admin/roles");

    for path in [
        "/admin",
        "/admin/roles",
        "/admin/audit",
        &user_path,
        "/admin/users/nope",
    ] {
        let (status, html) = page(&app, &user, path).await;
        assert_eq!(status, 403, "{path}");
        assert!(html.contains("Not allowed"), "{path}");
        assert!(
            !html.contains(USER) || path != "/admin",
            "{path} shows no user list"
        );
    }
    let (_, home) = page(&app, &user, "/").await;
    assert!(
        !home.contains(r#"href="/admin""#),
        "no Admin link for a user"
    );

    let (status, html) = page(&app, &admin, "/admin").await;
    assert_eq!(status, 200);
    assert!(html.contains(USER) && html.contains(ADMIN));
    assert!(html.contains(r#"data-testid="nav-admin""#));
    let (status, html) = page(&app, &admin, &format!("/admin?q={}", &USER[..9])).await;
    assert_eq!(status, 200);
    assert!(html.contains(USER) && !html.contains(&format!(">{ADMIN}<")));
    let (status, html) = page(&app, &admin, &user_path).await;
    assert_eq!(status, 200);
    assert!(html.contains(USER) && html.contains("Active"));
    assert_eq!(page(&app, &admin, "/admin/users/nope").await.0, 404);
    let (status, html) = page(&app, &admin, "/admin/roles").await;
    assert_eq!(status, 200);
    assert!(html.contains("users:read"));
    let (status, html) = page(&app, &admin, "/admin/audit?user=nope").await;
    assert_eq!(status, 200);
    assert!(html.contains("The user filter must be a user id."));
    let (status, html) = page(&app, &admin, "/admin?q=a%00b").await;
    assert_eq!(status, 200);
    assert!(html.contains("`q` holds a control character."), "{html}");
    let (status, html) = page(&app, &admin, "/admin/audit?outcome=success").await;
    assert_eq!(status, 200);
    assert!(html.contains("signup"));
}

async fn the_consoles_user_forms_work_as_plain_form_posts(backend: Backend) {
    let app = spawn_app_with(backend, &[("PORTCULLIS_BOOTSTRAP_ADMIN", ADMIN)]).await;
    let admin = signed_up(&app, ADMIN).await;
    let user = signed_up(&app, USER).await;
    let id = user_id(&app, &user).await;
    let user_path = format!("/admin/users/{id}");

    let posted = form_post(
        &app,
        &admin,
        "admin-set-attributes",
        &user_path,
        &[
            ("id", &id),
            ("attributes", "team_id = blue\n\norganization_id=acme\n"),
        ],
    )
    .await;
    assert!(posted.status().is_redirection(), "{}", posted.status());
    let shown = detail(&app, &admin, &id).await;
    assert_eq!(
        shown["attributes"],
        json!({ "organization_id": "acme", "team_id": "blue" })
    );

    // A malformed line changes nothing.
    form_post(
        &app,
        &admin,
        "admin-set-attributes",
        &user_path,
        &[("id", &id), ("attributes", "no equals sign")],
    )
    .await;
    let shown = detail(&app, &admin, &id).await;
    assert_eq!(shown["attributes"]["team_id"], "blue");

    let posted = form_post(
        &app,
        &admin,
        "admin-set-disabled",
        &user_path,
        &[("id", &id), ("disabled", "true")],
    )
    .await;
    assert!(posted.status().is_redirection());
    assert_eq!(app.me(&user).await.status(), 401);
    let (_, html) = page(&app, &admin, &user_path).await;
    assert!(html.contains("Disabled"));

    // Without the tick box, nothing is deleted.
    form_post(
        &app,
        &admin,
        "admin-delete-user",
        &user_path,
        &[("id", &id)],
    )
    .await;
    assert_eq!(page(&app, &admin, &user_path).await.0, 200);
    let posted = form_post(
        &app,
        &admin,
        "admin-delete-user",
        "/admin",
        &[("id", &id), ("confirm", "yes")],
    )
    .await;
    assert!(posted.status().is_redirection());
    assert_eq!(page(&app, &admin, &user_path).await.0, 404);
}

async fn deleting_ones_own_account_works_as_a_plain_form_post(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let user = signed_up(&app, USER).await;

    let unticked = form_post(
        &app,
        &user,
        "delete-account",
        "/account",
        &[("current_password", GOOD_PASSWORD)],
    )
    .await;
    assert!(unticked.status().is_redirection());
    assert_eq!(
        app.me(&user).await.status(),
        200,
        "not deleted without the tick"
    );

    let deleted = form_post(
        &app,
        &user,
        "delete-account",
        "/",
        &[("current_password", GOOD_PASSWORD), ("confirm", "yes")],
    )
    .await;
    assert!(deleted.status().is_redirection());
    assert_eq!(deleted.headers()["location"], "/");
    assert_eq!(app.me(&user).await.status(), 401);
    let again = app.login(&app.new_client(), USER, GOOD_PASSWORD).await;
    assert_eq!(again.status(), 401);
}

async fn roles_are_edited_by_plain_form_posts_with_permission_boxes(backend: Backend) {
    let app = spawn_app_with(backend, &[("PORTCULLIS_BOOTSTRAP_ADMIN", ADMIN)]).await;
    let admin = signed_up(&app, ADMIN).await;
    let role = |admin: Client| {
        let app = &app;
        async move {
            let roles: Value = admin
                .get(app.url("/api/admin/roles"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            roles["roles"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == "support")
                .cloned()
        }
    };

    // The boxes a browser posts: `permissions[]`, brackets encoded.
    form_post(
        &app,
        &admin,
        "admin-save-role",
        "/admin/roles",
        &[
            ("create", "yes"),
            ("name", "support"),
            ("description", "Helps people"),
            ("permissions[]", "users:read"),
            ("permissions[]", "audit:read"),
        ],
    )
    .await;
    let created = role(admin.clone()).await.expect("created");
    assert_eq!(created["permissions"], json!(["audit:read", "users:read"]));
    assert_eq!(created["description"], "Helps people");

    // No box ticked: the role keeps no permission.
    form_post(
        &app,
        &admin,
        "admin-save-role",
        "/admin/roles",
        &[("name", "support")],
    )
    .await;
    assert_eq!(role(admin.clone()).await.unwrap()["permissions"], json!([]));

    // A refusal comes back to the page, and says why there.
    let refused = form_post(
        &app,
        &admin,
        "admin-save-role",
        "/admin/roles",
        &[("create", "yes"), ("name", "support")],
    )
    .await;
    let back = refused.headers()["location"].to_str().unwrap().to_owned();
    let (_, html) = page(&app, &admin, back.trim_start_matches(&app.address)).await;
    assert!(
        html.contains("role_exists") || html.contains("exists"),
        "{html}"
    );

    form_post(
        &app,
        &admin,
        "admin-delete-role",
        "/admin/roles",
        &[("name", "support")],
    )
    .await;
    assert!(role(admin.clone()).await.is_none());
}
