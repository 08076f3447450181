//! `POST /oauth2/token` (issue 18): client credentials (RFC 6749 §4.4)
//! with an agent's key as the client secret, the RFC 9068 access token,
//! its lifetime, the RFC 6749 §5.2 errors, a real OAuth 2.0 client, and
//! token exchange for an agent acting for its user (RFC 8693).

use std::time::Duration;

use reqwest::{header, Client, Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{jwt_claims, within_a_second, Backend};
use crate::machines::{
    answer, flip, header_text, jwt_header, machines, machines_with, made_up_key, names, now,
    sorted, Machines,
};
use crate::on_both_backends;

on_both_backends!(
    client_credentials_give_a_short_lived_at_jwt_and_no_refresh_token,
    the_token_lifetime_is_five_minutes_at_most_and_configurable_down,
    token_endpoint_errors_take_the_rfc_6749_form,
    a_real_oauth2_client_gets_tokens_with_basic_and_post_authentication,
    token_exchange_gives_an_agent_a_token_acting_for_its_user,
);

/// A token request that must fail: (what it is, the form, Basic
/// credentials, the status, the error).
type Case<'a> = (
    &'a str,
    Vec<(&'a str, &'a str)>,
    Option<(&'a str, &'a str)>,
    u16,
    &'a str,
);

/// A token exchange that must fail: (what it is, the client id, more
/// parameters, the subject token, the status, the error).
type Refusal<'a> = (
    &'a str,
    String,
    Vec<(&'static str, String)>,
    String,
    u16,
    &'a str,
);

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// An agent of a person holding users:read and audit:read, with both:
/// (the agent's id, its key, its key's id, the owner's id).
async fn agent_app(m: &Machines) -> (String, String, String, String) {
    let owner = m
        .person_with("helper-owner", &["users:read", "audit:read"])
        .await;
    let (agent, key) = m
        .register(
            &owner.client,
            "oauth-agent",
            "agent",
            &["users:read", "audit:read"],
        )
        .await;
    (
        agent["id"].as_str().unwrap().to_owned(),
        key,
        agent["keys"][0]["id"].as_str().unwrap().to_owned(),
        owner.id,
    )
}

async fn client_credentials_give_a_short_lived_at_jwt_and_no_refresh_token(backend: Backend) {
    let m = machines(backend).await;
    let (id, key, key_id, owner_id) = agent_app(&m).await;
    let issued_at = now(&m.app).timestamp();

    let response = m
        .oauth_token(&[("grant_type", "client_credentials")], Some((&id, &key)))
        .await;
    assert_eq!(response.status(), 200);
    let cache = header_text(&response, "cache-control").unwrap();
    assert!(cache.contains("no-store"), "{cache}");
    assert!(header_text(&response, "content-type")
        .unwrap()
        .starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(names(&body["scope"]), sorted(&["users:read", "audit:read"]));
    assert!(body.get("refresh_token").is_none(), "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();

    assert_eq!(jwt_header(&token)["typ"], "at+jwt");
    let claims = jwt_claims(&token);
    assert_eq!(claims["iss"], m.app.address.as_str());
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["aud"], "portcullis");
    assert_eq!(claims["typ"], "access");
    assert_eq!(claims["kind"], "agent");
    assert_eq!(claims["role"], "agent");
    assert_eq!(claims["roles"], json!([]));
    assert_eq!(claims["email"], "");
    assert_eq!(claims["sid"], key_id.as_str());
    assert_eq!(
        names(&claims["scope"]),
        sorted(&["users:read", "audit:read"])
    );
    assert_eq!(
        names(&claims["permissions"]),
        sorted(&["users:read", "audit:read"])
    );
    let jti = claims["jti"].as_str().unwrap().to_owned();
    assert!(!jti.is_empty());
    let (iat, nbf, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["nbf"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!((iat - issued_at).abs() <= 1, "{claims}");
    assert!(nbf <= iat, "{claims}");
    assert_eq!(exp - iat, 300);
    // It works on Portcullis.
    let (status, user) = m
        .with_token(Method::GET, &format!("/api/users/{owner_id}"), &token, None)
        .await;
    assert_eq!(status, 200, "{user}");

    // client_secret_post, a narrower scope, another audience: a new token.
    let response = m
        .oauth_token(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &key),
                ("scope", "users:read"),
                ("resource", "https://api.example.com/orders"),
            ],
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(header_text(&response, "cache-control")
        .unwrap()
        .contains("no-store"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "users:read");
    assert!(body.get("refresh_token").is_none());
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["scope"], "users:read");
    assert_eq!(claims["permissions"], json!(["users:read"]));
    assert_eq!(claims["aud"], "https://api.example.com/orders");
    assert_ne!(claims["jti"], jti.as_str(), "a token of its own");

    // Both scopes, asked for by name.
    let body = m
        .client_credentials(&id, &key, &[("scope", "audit:read users:read")])
        .await;
    assert_eq!(names(&body["scope"]), sorted(&["users:read", "audit:read"]));
}

async fn the_token_lifetime_is_five_minutes_at_most_and_configurable_down(backend: Backend) {
    // The default: five minutes, after which it is refused (the verifier
    // allows 30 s of clock skew).
    let m = machines(backend).await;
    let (id, key, _, owner_id) = agent_app(&m).await;
    let lookup = format!("/api/users/{owner_id}");
    let body = m.client_credentials(&id, &key, &[]).await;
    assert_eq!(body["expires_in"], 300);
    let token = body["access_token"].as_str().unwrap().to_owned();
    m.app.clock.advance(Duration::from_secs(299));
    assert_eq!(
        m.with_token(Method::GET, &lookup, &token, None).await.0,
        200
    );
    m.app.clock.advance(Duration::from_secs(32));
    assert_eq!(
        m.with_token(Method::GET, &lookup, &token, None).await.0,
        401
    );

    // Configured down to a minute, on both token endpoints.
    let m = machines_with(backend, &[("PORTCULLIS_MACHINE_TOKEN_TTL_SECS", "60")]).await;
    let (id, key, _, owner_id) = agent_app(&m).await;
    let lookup = format!("/api/users/{owner_id}");
    let body = m.client_credentials(&id, &key, &[]).await;
    assert_eq!(body["expires_in"], 60);
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );
    let (status, other) = m.agent_token_answer(&key, None).await;
    assert_eq!(status, 200);
    assert_eq!(other["expires_in"], 60);
    let claims = jwt_claims(other["access_token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );
    let token = body["access_token"].as_str().unwrap().to_owned();
    m.app.clock.advance(Duration::from_secs(59));
    assert_eq!(
        m.with_token(Method::GET, &lookup, &token, None).await.0,
        200
    );
    m.app.clock.advance(Duration::from_secs(32));
    assert_eq!(
        m.with_token(Method::GET, &lookup, &token, None).await.0,
        401
    );
}

/// `POST /oauth2/token` with a raw form body.
async fn raw_token_request(
    m: &Machines,
    body: &str,
    basic: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut request = Client::new()
        .post(m.app.url("/oauth2/token"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap()
}

async fn token_endpoint_errors_take_the_rfc_6749_form(backend: Backend) {
    let m = machines(backend).await;
    let (id, key, _, _) = agent_app(&m).await;
    let (other, other_key) = m.admin_agent(&["users:read"]).await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    let (_, personal) = m.admin_key(&["users:read"]).await;
    let unknown_id = uuid::Uuid::new_v4().to_string();
    let mistyped = flip(&key, 25);
    let never_issued = made_up_key("sk");
    let cc = ("grant_type", "client_credentials");

    // (what, form, Basic credentials, status, error)
    let cases: Vec<Case<'_>> = vec![
        (
            "another grant",
            vec![
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "b"),
            ],
            Some((&id, &key)),
            400,
            "unsupported_grant_type",
        ),
        (
            "the code grant",
            vec![("grant_type", "authorization_code"), ("code", "x")],
            Some((&id, &key)),
            400,
            "unsupported_grant_type",
        ),
        (
            "no grant type",
            vec![("scope", "users:read")],
            Some((&id, &key)),
            400,
            "invalid_request",
        ),
        (
            "Basic and the body both",
            vec![cc, ("client_id", &id), ("client_secret", &key)],
            Some((&id, &key)),
            400,
            "invalid_request",
        ),
        (
            "a wrong secret, Basic",
            vec![cc],
            Some((&id, &other_key)),
            401,
            "invalid_client",
        ),
        (
            "a wrong secret, in the body",
            vec![cc, ("client_id", &id), ("client_secret", &other_key)],
            None,
            401,
            "invalid_client",
        ),
        (
            "another agent's key for this agent",
            vec![cc, ("client_id", &other_id), ("client_secret", &key)],
            None,
            401,
            "invalid_client",
        ),
        (
            "an unknown client",
            vec![cc],
            Some((&unknown_id, &key)),
            401,
            "invalid_client",
        ),
        (
            "a client id that is no id",
            vec![cc],
            Some(("nobody", &key)),
            401,
            "invalid_client",
        ),
        (
            "a personal key as the secret",
            vec![cc],
            Some((&id, &personal)),
            401,
            "invalid_client",
        ),
        (
            "a mistyped secret",
            vec![cc, ("client_id", &id), ("client_secret", &mistyped)],
            None,
            401,
            "invalid_client",
        ),
        (
            "a key never issued",
            vec![cc],
            Some((&id, &never_issued)),
            401,
            "invalid_client",
        ),
        (
            "no client authentication",
            vec![cc],
            None,
            401,
            "invalid_client",
        ),
        (
            "a client id without its secret",
            vec![cc, ("client_id", &id)],
            None,
            401,
            "invalid_client",
        ),
        (
            "a scope the agent lacks",
            vec![cc, ("scope", "users:write")],
            Some((&id, &key)),
            400,
            "invalid_scope",
        ),
        (
            "a scope no one has",
            vec![cc, ("scope", "users:read nonsense:x")],
            Some((&id, &key)),
            400,
            "invalid_scope",
        ),
        (
            "a resource that is no URI",
            vec![cc, ("resource", "not a uri")],
            Some((&id, &key)),
            400,
            "invalid_target",
        ),
        (
            "a relative resource",
            vec![cc, ("resource", "/orders")],
            Some((&id, &key)),
            400,
            "invalid_target",
        ),
        (
            "a resource with a fragment",
            vec![cc, ("resource", "https://api.example.com/#top")],
            Some((&id, &key)),
            400,
            "invalid_target",
        ),
    ];
    for (what, form, basic, status, error) in &cases {
        let response = m.oauth_token(form, *basic).await;
        let challenge = header_text(&response, "www-authenticate");
        let (got, body) = answer(response).await;
        assert_eq!(got.as_u16(), *status, "{what}: {body}");
        assert_eq!(body["error"], *error, "{what}: {body}");
        assert!(body.get("access_token").is_none(), "{what}");
        if let Some(description) = body.get("error_description") {
            assert!(description.is_string(), "{what}: {body}");
        }
        if *status == 401 && basic.is_some() {
            let challenge = challenge.unwrap_or_else(|| panic!("{what}: no WWW-Authenticate"));
            assert!(
                challenge.starts_with(r#"Basic realm="portcullis""#),
                "{what}: {challenge}"
            );
        }
    }

    // A parameter twice is malformed, even the same value twice.
    let (status, body) = answer(
        raw_token_request(
            &m,
            "grant_type=client_credentials&grant_type=client_credentials",
            Some((&id, &key)),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    let (status, body) = answer(
        raw_token_request(
            &m,
            "grant_type=client_credentials&scope=users:read&scope=audit:read",
            Some((&id, &key)),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");

    // Revoked or disabled: the client no longer authenticates.
    let (status, _) = m
        .as_admin(
            Method::PATCH,
            &format!("/api/agents/{other_id}"),
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, 200);
    within_a_second(|| async {
        let response = m.oauth_token(&[cc], Some((&other_id, &other_key))).await;
        let (status, body) = answer(response).await;
        status == StatusCode::UNAUTHORIZED && body["error"] == "invalid_client"
    })
    .await;
    // After all those refusals the agent still gets its token.
    m.client_credentials(&id, &key, &[]).await;
}

async fn a_real_oauth2_client_gets_tokens_with_basic_and_post_authentication(backend: Backend) {
    use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenType};
    use oauth2::{
        AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl,
    };

    let m = machines(backend).await;
    let (id, key, _, owner_id) = agent_app(&m).await;
    // oauth2 asks for a client that does not follow redirects.
    let http = oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token_url = TokenUrl::new(m.app.url("/oauth2/token")).unwrap();
    let basic = BasicClient::new(ClientId::new(id.clone()))
        .set_client_secret(ClientSecret::new(key.clone()))
        .set_token_uri(token_url.clone());
    let post = basic.clone().set_auth_type(AuthType::RequestBody);

    for client in [&basic, &post] {
        let token = client
            .exchange_client_credentials()
            .add_scope(Scope::new("users:read".to_owned()))
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(*token.token_type(), BasicTokenType::Bearer);
        assert_eq!(token.expires_in(), Some(Duration::from_secs(300)));
        assert!(token.refresh_token().is_none());
        assert_eq!(
            token.scopes(),
            Some(&vec![Scope::new("users:read".to_owned())])
        );
        let claims = jwt_claims(token.access_token().secret());
        assert_eq!(claims["client_id"], id.as_str());
        assert_eq!(claims["scope"], "users:read");
        let (status, _) = m
            .with_token(
                Method::GET,
                &format!("/api/users/{owner_id}"),
                token.access_token().secret(),
                None,
            )
            .await;
        assert_eq!(status, 200);

        // All it may have, when it names no scope.
        let token = client
            .exchange_client_credentials()
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let granted: Vec<&str> = token
            .scopes()
            .expect("the granted scope")
            .iter()
            .map(|s| s.as_str())
            .collect();
        let mut granted = granted;
        granted.sort_unstable();
        assert_eq!(granted, ["audit:read", "users:read"]);

        // Refusals the client understands.
        let refused = client
            .exchange_client_credentials()
            .add_scope(Scope::new("users:write".to_owned()))
            .request_async(&http)
            .await;
        match refused {
            Err(RequestTokenError::ServerResponse(e)) => {
                assert_eq!(*e.error(), BasicErrorResponseType::InvalidScope);
            }
            other => panic!("{other:?}"),
        }
    }
    let wrong = BasicClient::new(ClientId::new(id.clone()))
        .set_client_secret(ClientSecret::new(made_up_key("sk")))
        .set_token_uri(token_url);
    for client in [wrong.clone(), wrong.set_auth_type(AuthType::RequestBody)] {
        match client
            .exchange_client_credentials()
            .request_async(&http)
            .await
        {
            Err(RequestTokenError::ServerResponse(e)) => {
                assert_eq!(*e.error(), BasicErrorResponseType::InvalidClient);
            }
            other => panic!("{other:?}"),
        }
    }
}

async fn token_exchange_gives_an_agent_a_token_acting_for_its_user(backend: Backend) {
    let m = machines(backend).await;
    m.make_role("reader", &["users:read"]).await;
    m.make_role("auditor", &["audit:read"]).await;
    let user = m.person().await;
    m.set_roles(&user, &["reader", "auditor"]).await;
    let (agent, agent_key) = m
        .register(&user.client, "acting-agent", "agent", &["users:read"])
        .await;
    let agent_id = agent["id"].as_str().unwrap().to_owned();
    let stranger = m.person().await;
    m.set_roles(&stranger, &["reader"]).await;
    let (strangers, strangers_key) = m
        .register(
            &stranger.client,
            "strangers-agent",
            "agent",
            &["users:read"],
        )
        .await;
    let strangers_id = strangers["id"].as_str().unwrap().to_owned();
    let session = m.app.bearer_login(&user.email).await;
    let subject_sid = jwt_claims(&session.access)["sid"].clone();
    assert!(!subject_sid.is_null());

    let exchange = |client_id: String, more: Vec<(&'static str, String)>, subject: String| {
        let m = &m;
        async move {
            let mut form: Vec<(&str, String)> = vec![
                ("grant_type", TOKEN_EXCHANGE.to_owned()),
                ("subject_token", subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE.to_owned()),
                ("client_id", client_id),
            ];
            form.extend(more);
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = m.oauth_token(&form, None).await;
            let cache = header_text(&response, "cache-control");
            let (status, body) = answer(response).await;
            (status, body, cache)
        }
    };

    let (status, body, cache) = exchange(agent_id.clone(), vec![], session.access.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(cache.unwrap().contains("no-store"));
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN_TYPE);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    // Capped by both: the user holds audit:read, the agent does not.
    assert_eq!(body["scope"], "users:read");
    assert!(body.get("refresh_token").is_none());
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_header(&token)["typ"], "at+jwt");
    let claims = jwt_claims(&token);
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["act"]["sub"], agent_id.as_str());
    assert_eq!(claims["client_id"], agent_id.as_str());
    assert_eq!(claims["kind"], "agent");
    assert_eq!(claims["sid"], subject_sid);
    assert_eq!(claims["scope"], "users:read");
    assert_eq!(claims["permissions"], json!(["users:read"]));
    assert_eq!(claims["aud"], "portcullis");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    let (status, read) = m
        .with_token(
            Method::GET,
            &format!("/api/users/{}", stranger.id),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{read}");

    // With its secret, a scope and an audience.
    let (status, body, _) = exchange(
        agent_id.clone(),
        vec![
            ("client_secret", agent_key.clone()),
            ("scope", "users:read".to_owned()),
            ("resource", "https://api.example.com".to_owned()),
        ],
        session.access.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "https://api.example.com");
    assert_eq!(claims["act"]["sub"], agent_id.as_str());
    let successes = 2;

    let refusals: Vec<Refusal<'_>> = vec![
        (
            "a scope the agent lacks",
            agent_id.clone(),
            vec![("scope", "audit:read".to_owned())],
            session.access.clone(),
            400,
            "invalid_scope",
        ),
        (
            "another user's agent",
            strangers_id.clone(),
            vec![],
            session.access.clone(),
            400,
            "invalid_grant",
        ),
        (
            "another user's agent with its own secret",
            strangers_id.clone(),
            vec![("client_secret", strangers_key.clone())],
            session.access.clone(),
            400,
            "invalid_grant",
        ),
        (
            "a subject token that is none",
            agent_id.clone(),
            vec![],
            "garbage".to_owned(),
            400,
            "invalid_grant",
        ),
        (
            "a wrong secret",
            agent_id.clone(),
            vec![("client_secret", strangers_key.clone())],
            session.access.clone(),
            401,
            "invalid_client",
        ),
    ];
    for (what, client_id, more, subject, status, error) in refusals {
        let (got, body, _) = exchange(client_id, more, subject).await;
        assert_eq!(got.as_u16(), status, "{what}: {body}");
        assert_eq!(body["error"], error, "{what}: {body}");
    }
    // A machine token is no user's token.
    let machine = m.agent_token(&agent_key).await;
    let (status, body, _) = exchange(agent_id.clone(), vec![], machine).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    // Without the subject token.
    let form = [
        ("grant_type", TOKEN_EXCHANGE),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("client_id", agent_id.as_str()),
    ];
    let (status, body) = answer(m.oauth_token(&form, None).await).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");

    // The audit log: "agent X for user Y", once per token issued.
    let (status, page) = m
        .as_admin(
            Method::GET,
            &format!(
                "/api/admin/audit?user={}&type=agent_delegation&outcome=success",
                user.id
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), successes, "{page}");
    for event in events {
        assert_eq!(event["user_id"], user.id.as_str());
        let details = event["details"].to_string();
        assert!(
            details.contains(&agent_id) || details.contains("acting-agent"),
            "the event names the agent: {details}"
        );
    }
    let (status, activity) = m
        .call(&user.client, Method::GET, "/api/auth/activity", None)
        .await;
    assert_eq!(status, 200);
    assert!(
        activity["activity"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "agent_delegation"),
        "{activity}"
    );

    // Signed out: the subject token no longer gets anything.
    let signed_out = Client::new()
        .post(m.app.url("/api/auth/logout"))
        .json(&json!({ "refresh_token": session.refresh }))
        .send()
        .await
        .unwrap();
    assert!(signed_out.status().is_success(), "{}", signed_out.status());
    within_a_second(|| async {
        let (status, body, _) = exchange(agent_id.clone(), vec![], session.access.clone()).await;
        status == StatusCode::BAD_REQUEST && body["error"] == "invalid_grant"
    })
    .await;
}
