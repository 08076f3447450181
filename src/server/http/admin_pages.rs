//! The admin console's data, read before its page renders (as
//! `page_session` reads the session) and handed to the page in the
//! request's extensions. The services check the permissions, so this is
//! the one place the console is guarded on the server: the page renders a
//! 403 for `Forbidden`, and sends a signed-out visitor to sign in.

use std::collections::HashMap;

use axum::{
    extract::{Query, Request, State},
    middleware::Next,
    response::Response,
};
use uuid::Uuid;

use crate::{
    model::{AdminPage, AuditFilters, Permission},
    server::{
        credentials::tokens::Principal,
        http::{
            error::ApiError,
            extract::{client_info, principal_from_headers},
            state::AppState,
        },
        services::{admin::AuditQuery, ServiceError, Services},
    },
};

/// Users per page of the console's list.
const PAGE_SIZE: i64 = 25;

/// Middleware for the page routes: loads the data of an `/admin` page.
pub async fn read(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path != "/admin" && !path.starts_with("/admin/") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    if let Some(principal) = principal_from_headers(&state, &parts.headers) {
        let client = client_info(&parts, &state.trusted_proxies);
        let params = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map(|Query(p)| p)
            .unwrap_or_default();
        let services = state.services(&client);
        let page = load(&services, &principal, parts.uri.path(), &params).await;
        if let Some(page) = page {
            parts.extensions.insert(page);
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

/// `None` when the visitor turns out to be signed out.
async fn load(
    services: &Services<'_>,
    principal: &Principal,
    path: &str,
    params: &HashMap<String, String>,
) -> Option<AdminPage> {
    let param = |name: &str| {
        params
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(2).collect();
    let loaded = match segments.as_slice() {
        [] => {
            let query = param("q").unwrap_or_default();
            services
                .admin_list_users(
                    principal,
                    &query,
                    param("cursor").as_deref(),
                    Some(PAGE_SIZE),
                )
                .await
                .map(|page| AdminPage::Users { page, query })
        }
        ["users", id] => match Uuid::parse_str(id) {
            Ok(id) => services
                .admin_user(principal, id)
                .await
                .map(|user| AdminPage::User(Box::new(user))),
            Err(_) => not_found(services, principal).await,
        },
        ["roles"] => services.admin_roles(principal).await.map(AdminPage::Roles),
        ["audit"] => audit(services, principal, &param).await,
        _ => not_found(services, principal).await,
    };
    match loaded {
        Ok(page) => Some(page),
        Err(ServiceError::Unauthenticated | ServiceError::StaleAuthorization) => None,
        Err(ServiceError::Forbidden) => Some(AdminPage::Forbidden),
        Err(ServiceError::NotFound) => Some(AdminPage::NotFound),
        Err(err) => {
            let api = ApiError::from(err);
            api.log();
            Some(AdminPage::Failed(api.message().to_owned()))
        }
    }
}

/// Nothing here: said only to those who may use the console.
async fn not_found(
    services: &Services<'_>,
    principal: &Principal,
) -> Result<AdminPage, ServiceError> {
    services
        .authorize_for(principal, Permission::UsersRead)
        .await?;
    Err(ServiceError::NotFound)
}

async fn audit(
    services: &Services<'_>,
    principal: &Principal,
    param: &impl Fn(&str) -> Option<String>,
) -> Result<AdminPage, ServiceError> {
    let filters = AuditFilters {
        user: param("user").unwrap_or_default(),
        event_type: param("type").unwrap_or_default(),
        outcome: param("outcome").unwrap_or_default(),
    };
    let user_id = match filters.user.as_str() {
        "" => None,
        id => match Uuid::parse_str(id) {
            Ok(id) => Some(id),
            Err(_) => {
                services
                    .authorize_for(principal, Permission::AuditRead)
                    .await?;
                return Ok(AdminPage::Failed(
                    "The user filter must be a user id.".into(),
                ));
            }
        },
    };
    let cursor = param("cursor");
    let query = AuditQuery {
        user_id,
        event_type: Some(filters.event_type.as_str()).filter(|t| !t.is_empty()),
        outcome: Some(filters.outcome.as_str()).filter(|o| !o.is_empty()),
        cursor: cursor.as_deref(),
        limit: Some(PAGE_SIZE),
    };
    let page = services.admin_audit(principal, query).await?;
    Ok(AdminPage::Audit { page, filters })
}
