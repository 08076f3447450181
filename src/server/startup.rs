//! Builds the application: database, migrations, router and listener.

use std::{future::Future, io, net::SocketAddr, sync::Arc};

use axum::{middleware, Router};
use leptos::{config::LeptosOptions, prelude::provide_context};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;

use super::{
    config::Config,
    credentials::{
        cookies::SessionCookies,
        keys::KeyError,
        password::{HashError, HashLimits, HashingParams, PasswordHasher},
        tokens::AccessTokens,
    },
    http::{
        middleware::{
            csrf,
            limits::{self, Limits},
            request_id, security_headers,
        },
        routes,
        state::{AppState, Credentials},
    },
    platform::{
        clock::{SharedClock, SystemClock},
        serve::{self, ConnectionLimits},
    },
    store::{
        db::{Db, DbError},
        rate_limits,
    },
};
use crate::app::{shell, App};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("could not listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("password hashing set-up failed: {0}")]
    Hashing(#[from] HashError),
    #[error(transparent)]
    SigningKey(#[from] KeyError),
}

/// A built application, bound to its port but not yet serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    db: Db,
    clock: SharedClock,
    connection_limits: ConnectionLimits,
}

/// How often stale throttling rows are deleted, and how quiet they must be.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);
const PURGE_QUIET_FOR: chrono::Duration = chrono::Duration::days(1);

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with_clock(config, std::sync::Arc::new(SystemClock)).await
    }

    /// Like [`Application::build`], with the clock tests control.
    pub async fn build_with_clock(
        config: Config,
        clock: SharedClock,
    ) -> Result<Self, StartupError> {
        let db = Db::connect(&config.database_url, config.db_max_connections).await?;
        db.migrate().await?;

        let listener = TcpListener::bind(config.listen_addr)
            .await
            .map_err(|source| StartupError::Bind {
                addr: config.listen_addr,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: config.listen_addr,
            source,
        })?;

        let public_origin = config
            .public_origin
            .clone()
            .unwrap_or_else(|| format!("http://{local_addr}"));
        let credentials = Credentials {
            hasher: PasswordHasher::new(
                HashingParams {
                    memory_kib: config.argon2_memory_kib,
                    iterations: config.argon2_iterations,
                    parallelism: config.argon2_parallelism,
                },
                HashLimits {
                    concurrency: config.hash_concurrency,
                    queue_length: config.hash_queue_length,
                    queue_timeout: config.hash_queue_timeout,
                },
            )?,
            tokens: AccessTokens::new(
                &config.signing_keys,
                public_origin.clone(),
                config.token_audience.clone(),
                config.access_token_ttl,
            )?,
            cookies: SessionCookies::new(config.cookie_secure),
        };
        let state = AppState {
            leptos_options: leptos_options(&config, local_addr),
            db: db.clone(),
            config: Arc::new(config),
            clock: clock.clone(),
            credentials: Arc::new(credentials),
            public_origin: public_origin.into(),
        };
        Ok(Self {
            listener,
            connection_limits: ConnectionLimits {
                max_connections: state.config.max_connections,
                header_timeout: state.config.header_timeout,
            },
            router: router(state),
            db,
            clock,
        })
    }

    /// The bound address; with port 0 in the config, the port the OS chose.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until_stopped<F>(self, shutdown: F) -> io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let purger = tokio::spawn(purge_rate_limits(self.db.clone(), self.clock.clone()));
        let result =
            serve::serve(self.listener, self.router, self.connection_limits, shutdown).await;
        purger.abort();
        self.db.close().await;
        result
    }
}

/// Deletes throttling rows nobody has hit for a day, so the table holds
/// only recent attackers and not every address ever seen.
async fn purge_rate_limits(db: Db, clock: SharedClock) {
    let mut every = tokio::time::interval(PURGE_EVERY);
    loop {
        every.tick().await;
        let now = clock.now();
        match rate_limits::purge(&db, now - PURGE_QUIET_FOR, now).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "stale rate-limit rows deleted"),
            Err(error) => tracing::warn!(%error, "could not purge rate-limit rows"),
        }
    }
}

fn leptos_options(config: &Config, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("portcullis")
        .site_root(config.site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .env(if config.is_production() {
            leptos::config::Env::PROD
        } else {
            leptos::config::Env::DEV
        })
        .build()
}

fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let development = !state.config.is_production();
    let page_context = {
        let state = state.clone();
        move || {
            provide_context(state.clone());
            security_headers::set_page_csp(development);
        }
    };
    let shell_options = state.leptos_options.clone();
    let limits = Limits::new(
        state.config.max_concurrent_requests,
        state.config.request_timeout,
    );
    Router::new()
        .merge(routes::router())
        .leptos_routes_with_context(&state, routes, page_context.clone(), move || {
            shell(shell_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(page_context, shell))
        .layer(middleware::from_fn_with_state(state.clone(), csrf::guard))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security_headers::harden,
        ))
        .layer(middleware::from_fn_with_state(limits, limits::enforce))
        .layer(middleware::from_fn(request_id::request_id))
        .with_state(state)
}
