//! Forward-auth for machines (issue 18): API keys in `Authorization:
//! Bearer` or `X-API-Key`, and machine tokens, pass `signed-in` rules and
//! permission rules by their effective permissions, never role rules; a
//! revoked key or a disabled agent closes the gate within a second.

use reqwest::{Client, Method, StatusCode};
use serde_json::json;

use crate::helpers::{within_a_second, Backend};
use crate::machines::{
    flip, header_text, machines_with, made_up_key, KeyIn, Machines, ADMIN, BOTH_WAYS,
};
use crate::on_both_backends;

on_both_backends!(
    keys_and_machine_tokens_pass_by_the_rules_and_never_by_a_role,
    a_revoked_key_or_a_disabled_agent_closes_the_gate_within_a_second,
);

const RULES: &str = r#"
[[rule]]
host = "app.example.com"
path = "/admin"
allow = "role:admin"

[[rule]]
host = "app.example.com"
path = "/audit"
allow = "permission:audit:read"

[[rule]]
host = "app.example.com"
path = "/directory"
allow = "permission:users:read"

[[rule]]
host = ".example.org"
allow = "signed-in"
"#;

const SIGNED_IN: &str = "https://x.example.org/";
const ROLE: &str = "https://app.example.com/admin/panel";
const AUDIT: &str = "https://app.example.com/audit/log";
const DIRECTORY: &str = "https://app.example.com/directory/people";

/// An app behind a trusted proxy with `RULES`; the rules file lives as
/// long as the returned directory.
async fn gateway(backend: Backend) -> (Machines, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.toml");
    std::fs::write(&file, RULES).unwrap();
    let m = machines_with(
        backend,
        &[
            ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
            (
                "PORTCULLIS_ALLOWED_RETURN_HOSTS",
                "app.example.com, .example.org",
            ),
            ("PORTCULLIS_ACCESS_RULES", file.to_str().unwrap()),
        ],
    )
    .await;
    (m, dir)
}

/// What a credential carries to the gate.
#[derive(Debug, Clone, Copy)]
enum Credential<'a> {
    Key(KeyIn, &'a str),
    Token(&'a str),
    Nothing,
}

/// What nginx's `auth_request` sends for the held `GET url`.
async fn ask_nginx(m: &Machines, url: &str, credential: Credential<'_>) -> reqwest::Response {
    let mut request = Client::new()
        .get(m.app.url("/api/authz/auth-request"))
        .header("x-original-method", "GET")
        .header("x-original-url", url);
    request = match credential {
        Credential::Key(KeyIn::Bearer, key) | Credential::Token(key) => request.bearer_auth(key),
        Credential::Key(KeyIn::Header, key) => request.header("x-api-key", key),
        Credential::Nothing => request,
    };
    request.send().await.unwrap()
}

/// The gate's answer for a signed-in rule.
async fn gate(m: &Machines, credential: Credential<'_>) -> StatusCode {
    ask_nginx(m, SIGNED_IN, credential).await.status()
}

async fn keys_and_machine_tokens_pass_by_the_rules_and_never_by_a_role(backend: Backend) {
    let (m, _rules) = gateway(backend).await;
    let (_, personal) = m.admin_key(&["users:read"]).await;
    let (agent, agent_key) = m.admin_agent(&["users:read"]).await;
    let agent_id = agent["id"].as_str().unwrap().to_owned();
    let token = m.agent_token(&agent_key).await;

    let mut machine = vec![Credential::Token(&token)];
    let mut personal_ways = Vec::new();
    for how in BOTH_WAYS {
        machine.push(Credential::Key(how, &agent_key));
        personal_ways.push(Credential::Key(how, &personal));
    }

    for credential in &machine {
        let passed = ask_nginx(&m, SIGNED_IN, *credential).await;
        assert_eq!(passed.status(), StatusCode::OK, "{credential:?}");
        assert_eq!(
            header_text(&passed, "x-auth-request-user").unwrap(),
            agent_id,
            "{credential:?}"
        );
        assert_eq!(
            header_text(&passed, "x-auth-request-email").unwrap_or_default(),
            "",
            "{credential:?}"
        );
        assert_eq!(
            header_text(&passed, "x-auth-request-groups").unwrap_or_default(),
            "",
            "{credential:?}"
        );
        // By its permissions: users:read yes, audit:read no; no role ever.
        for (url, expected) in [
            (DIRECTORY, StatusCode::OK),
            (AUDIT, StatusCode::FORBIDDEN),
            (ROLE, StatusCode::FORBIDDEN),
        ] {
            let response = ask_nginx(&m, url, *credential).await;
            assert_eq!(response.status(), expected, "{credential:?} {url}");
        }
    }
    for credential in &personal_ways {
        let passed = ask_nginx(&m, SIGNED_IN, *credential).await;
        assert_eq!(passed.status(), StatusCode::OK, "{credential:?}");
        assert_eq!(
            header_text(&passed, "x-auth-request-user").unwrap(),
            m.admin_id
        );
        assert_eq!(header_text(&passed, "x-auth-request-email").unwrap(), ADMIN);
        // Its scopes, not all of its owner's permissions.
        for (url, expected) in [(DIRECTORY, StatusCode::OK), (AUDIT, StatusCode::FORBIDDEN)] {
            let response = ask_nginx(&m, url, *credential).await;
            assert_eq!(response.status(), expected, "{credential:?} {url}");
        }
    }

    // Traefik's and Envoy's endpoints take a key the same way.
    let traefik = Client::new()
        .get(m.app.url("/api/authz/forward-auth"))
        .header("accept", "application/json")
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "x.example.org")
        .header("x-forwarded-uri", "/reports")
        .header("x-api-key", &agent_key)
        .send()
        .await
        .unwrap();
    assert_eq!(traefik.status(), StatusCode::OK);
    assert_eq!(
        header_text(&traefik, "x-auth-request-user").unwrap(),
        agent_id
    );
    let envoy = Client::new()
        .request(Method::POST, m.app.url("/api/authz/envoy/reports"))
        .header("host", "x.example.org")
        .header("x-forwarded-proto", "https")
        .header("accept", "application/json")
        .bearer_auth(&agent_key)
        .send()
        .await
        .unwrap();
    assert_eq!(envoy.status(), StatusCode::OK);

    // Nothing, a mistyped key, or one never issued: 401.
    let mistyped = flip(&agent_key, 30);
    let unknown = made_up_key("sk");
    let mut refused = vec![Credential::Nothing];
    for how in BOTH_WAYS {
        refused.push(Credential::Key(how, &mistyped));
        refused.push(Credential::Key(how, &unknown));
    }
    for credential in refused {
        let response = ask_nginx(&m, SIGNED_IN, credential).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{credential:?}"
        );
    }
}

async fn a_revoked_key_or_a_disabled_agent_closes_the_gate_within_a_second(backend: Backend) {
    let (m, _rules) = gateway(backend).await;
    let (personal_made, personal) = m.admin_key(&["users:read"]).await;
    let (agent, agent_key) = m.admin_agent(&["users:read"]).await;
    let (other, other_key) = m.admin_agent(&["users:read"]).await;
    let token = m.agent_token(&other_key).await;
    let agent_path = format!("/api/agents/{}", agent["id"].as_str().unwrap());
    // Known to the gate: passed twice.
    for _ in 0..2 {
        for how in BOTH_WAYS {
            assert_eq!(
                gate(&m, Credential::Key(how, &personal)).await,
                StatusCode::OK
            );
            assert_eq!(
                gate(&m, Credential::Key(how, &agent_key)).await,
                StatusCode::OK
            );
        }
        assert_eq!(gate(&m, Credential::Token(&token)).await, StatusCode::OK);
    }

    let (answer, _) = m
        .as_admin(
            Method::DELETE,
            &format!(
                "/api/auth/api-keys/{}",
                personal_made["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(answer, StatusCode::NO_CONTENT);
    within_a_second(|| async {
        gate(&m, Credential::Key(KeyIn::Bearer, &personal)).await == StatusCode::UNAUTHORIZED
            && gate(&m, Credential::Key(KeyIn::Header, &personal)).await == StatusCode::UNAUTHORIZED
    })
    .await;

    let (answer, _) = m
        .as_admin(
            Method::DELETE,
            &format!(
                "{agent_path}/keys/{}",
                agent["keys"][0]["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(answer, StatusCode::NO_CONTENT);
    within_a_second(|| async {
        gate(&m, Credential::Key(KeyIn::Header, &agent_key)).await == StatusCode::UNAUTHORIZED
    })
    .await;

    let (answer, _) = m
        .as_admin(
            Method::PATCH,
            &format!("/api/agents/{}", other["id"].as_str().unwrap()),
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(answer, StatusCode::OK);
    within_a_second(|| async {
        gate(&m, Credential::Token(&token)).await == StatusCode::UNAUTHORIZED
            && gate(&m, Credential::Key(KeyIn::Bearer, &other_key)).await
                == StatusCode::UNAUTHORIZED
    })
    .await;
}
