//! Builds the application: database, migrations, router and listener.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{middleware, Router};
use ipnet::IpNet;
use leptos::{config::LeptosOptions, prelude::provide_context};
use leptos_axum::{generate_route_list, LeptosRoutes};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::{net::TcpListener, sync::watch};

use super::{
    config::Config,
    credentials::{
        assertions::Assertions,
        device_cookies::DeviceCookies,
        keys::KeyError,
        password::{HashCount, HashError, IdleMemory, PasswordHasher},
        tokens::AccessTokens,
    },
    http::{
        admin_pages,
        assets::{self, Naming},
        gate_passes::GatePasses,
        middleware::{
            cors, csrf,
            limits::{self, Limits},
            methods, metrics as record_metrics, request_id, security_headers,
        },
        page_session, routes,
        state::{AppState, Credentials, Shared},
    },
    platform::{
        clock::{Clock, SharedClock, SystemClock},
        jobs,
        serve::{self, ConnectionLimits},
        shutdown::Draining,
        telemetry::metrics::{self, MetricsError},
    },
    services::{
        authz_view::AuthzView,
        bootstrap::{self, BootstrapAdmin, Granted, When},
        machines::unknown_keys::UnknownKeys,
        retention::{self, RetentionPolicy},
        sessions::SessionPolicy,
        Policies,
    },
    store::{
        authz_changes::Announcements,
        db::{Db, DbError},
        sessions as session_rows,
    },
};
use crate::{
    app::{shell, App},
    model::RoleName,
};

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
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("could not make {email} an administrator: {source}")]
    Bootstrap { email: String, source: sqlx::Error },
}

/// Makes `PORTCULLIS_BOOTSTRAP_ADMIN`'s account an administrator if it
/// exists and no enabled administrator does (if it does not exist yet, its
/// sign-up will); every replica may, as it is idempotent.
async fn bootstrap_admin(
    db: &Db,
    admin: &BootstrapAdmin,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StartupError> {
    let Some(email) = &admin.0 else {
        return Ok(());
    };
    let Some(role) = RoleName::parse(RoleName::ADMIN) else {
        return Ok(());
    };
    match bootstrap::grant_by_email(db, email.as_str(), &role, When::NoAdminYet, now).await {
        Ok(Granted::Now) => tracing::info!("the bootstrap account is now an administrator"),
        Ok(_) => {}
        Err(source) => {
            return Err(StartupError::Bootstrap {
                email: email.as_str().to_owned(),
                source,
            })
        }
    }
    Ok(())
}

/// Runs `portcullis admin grant <email> <role>`: connects, migrates and
/// grants, idempotently.
pub async fn grant_role(config: &Config, email: &str, role: &str) -> Result<String, String> {
    let role = RoleName::parse(role).ok_or_else(|| format!("`{role}` is not a role name"))?;
    let db = Db::connect(&config.db.url, 1)
        .await
        .map_err(|e| e.to_string())?;
    let result = async {
        db.migrate().await.map_err(|e| e.to_string())?;
        let now = SystemClock.now();
        match bootstrap::grant_by_email(&db, email, &role, When::Always, now).await {
            Ok(Granted::Now) => Ok(format!("{email} now holds {role}")),
            Ok(Granted::Already) => Ok(format!("{email} already holds {role}")),
            Ok(Granted::NoSuchUser) => Err(format!("no account has the email {email}")),
            Ok(Granted::NoSuchRole) => Err(format!("there is no role `{role}`")),
            Ok(Granted::AdminExists) => Ok(format!("{email} was left as it is")),
            Err(e) => Err(format!("database error: {e}")),
        }
    }
    .await;
    db.close().await;
    result
}

/// A built application, bound to its port but not yet serving.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    db: Db,
    clock: SharedClock,
    connection_limits: ConnectionLimits,
    trusted_proxies: Arc<[IpNet]>,
    sessions: SessionPolicy,
    retention: RetentionPolicy,
    hashes: HashCount,
    /// The hasher's unused memory, freed after this long unused.
    hash_memory: (IdleMemory, Duration),
    /// The view of sessions and users, and what announces their changes.
    authz: (AuthzView, Option<Announcements>),
    /// The metrics listener and its router, when configured.
    metrics: Option<MetricsListener>,
    draining: Draining,
}

struct MetricsListener {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
}

/// How often the live-session gauge is recounted.
const COUNT_SESSIONS_EVERY: Duration = Duration::from_secs(30);

/// How often rows that ran out are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(600);

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with_clock(config, std::sync::Arc::new(SystemClock)).await
    }

    /// Like [`Application::build`], with the clock tests control.
    pub async fn build_with_clock(
        config: Config,
        clock: SharedClock,
    ) -> Result<Self, StartupError> {
        // First, so what is built next can already record.
        let recorder = match config.metrics.listen_addr {
            Some(_) => Some(metrics::install()?),
            None => None,
        };
        let db = Db::connect(&config.db.url, config.db.max_connections).await?;
        db.migrate().await?;
        bootstrap_admin(&db, &config.bootstrap_admin, clock.now()).await?;
        let announcements = Announcements::listen(&config.db.url)
            .await
            .map_err(|e| StartupError::Database(DbError::Connect(e)))?;
        let authz = AuthzView::new(
            config
                .tokens
                .access_ttl
                .to_std()
                .unwrap_or(Duration::from_secs(900)),
        );

        let addr = config.http.listen_addr;
        let bind_error = |source| StartupError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;

        let public_origin = config
            .http
            .public_origin
            .clone()
            .unwrap_or_else(|| format!("http://{local_addr}"));
        let credentials = Credentials {
            hasher: PasswordHasher::new(config.hashing.params, config.hashing.limits)?,
            tokens: AccessTokens::new(
                &config.tokens.signing_keys,
                public_origin.clone(),
                config.tokens.audience.clone(),
                config.tokens.access_ttl,
            )?,
            assertions: Assertions::new(&config.tokens.signing_keys, public_origin.clone())?,
            devices: DeviceCookies::new(&config.tokens.signing_keys)?,
            cookies: config.cookies.clone(),
        };
        let hashes = credentials.hasher.computed();
        let hash_memory = (
            credentials.hasher.idle_memory(),
            config.hashing.release_memory_after,
        );
        let draining = Draining::default();
        let state = AppState::new(Shared {
            leptos_options: leptos_options(&config, local_addr),
            db: db.clone(),
            authz: authz.clone(),
            clock: clock.clone(),
            credentials: Arc::new(credentials),
            policies: Arc::new(Policies {
                sessions: config.sessions,
                throttle: config.throttle.clone(),
                bootstrap_admin: config.bootstrap_admin.clone(),
                gateway: config.gateway.clone(),
                machines: config.machines.clone(),
            }),
            trusted_proxies: config.http.trusted_proxies.clone().into(),
            public_origin: public_origin.into(),
            cors_origins: config.http.cors_origins.clone().into(),
            passes: GatePasses::default(),
            unknown_keys: UnknownKeys::default(),
            draining: draining.clone(),
        });
        let metrics = match (recorder, config.metrics.listen_addr) {
            (Some(handle), Some(addr)) => {
                Some(MetricsListener::bind(addr, state.clone(), handle).await?)
            }
            _ => None,
        };
        Ok(Self {
            listener,
            local_addr,
            connection_limits: config.connections,
            trusted_proxies: config.http.trusted_proxies.clone().into(),
            router: router(state, &config),
            db,
            clock,
            sessions: config.sessions,
            retention: config.retention,
            hashes,
            hash_memory,
            authz: (authz, announcements),
            metrics,
            draining,
        })
    }

    /// How many password hashes this server has computed, live.
    pub fn hashes_computed(&self) -> HashCount {
        self.hashes.clone()
    }

    /// The bound address; with port 0 in the config, the port the OS chose.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where `/metrics` is served, when it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| m.local_addr)
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until_stopped<F>(self, shutdown: F) -> io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let purger = purge(
            self.db.clone(),
            self.clock.clone(),
            self.sessions,
            self.retention,
        );
        let (idle, quiet) = self.hash_memory;
        let releaser = release_hash_memory(idle, quiet);
        let (authz, announcements) = self.authz;
        let follower = authz.follow(self.db.clone(), announcements);
        // One signal stops both listeners; readiness fails from that moment.
        let (stop, stopped) = watch::channel(false);
        let draining = self.draining.clone();
        let signal = tokio::spawn(async move {
            shutdown.await;
            draining.begin();
            let _ = stop.send(true);
        });
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                // An error means the sender is gone, which also means stop.
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        let (metrics_server, counter) = match self.metrics {
            Some(m) => {
                tracing::info!(addr = %m.local_addr, "metrics listening");
                let server = tokio::spawn(serve::serve(
                    m.listener,
                    m.router,
                    self.connection_limits,
                    Arc::from([]),
                    until_stopped(),
                ));
                let counter =
                    count_live_sessions(self.db.clone(), self.clock.clone(), self.sessions);
                (Some(server), Some(counter))
            }
            None => (None, None),
        };
        let result = serve::serve(
            self.listener,
            self.router,
            self.connection_limits,
            self.trusted_proxies,
            until_stopped(),
        )
        .await;
        if let Some(server) = metrics_server {
            match server.await {
                Ok(Err(error)) => tracing::warn!(%error, "the metrics listener failed"),
                Err(error) => tracing::warn!(%error, "the metrics listener stopped abnormally"),
                Ok(Ok(())) => {}
            }
        }
        signal.abort();
        purger.abort();
        releaser.abort();
        if let Some(counter) = counter {
            counter.abort();
        }
        drop(follower);
        self.db.close().await;
        result
    }
}

/// Frees hashing memory left unused for `quiet`, checking twice as often.
fn release_hash_memory(idle: IdleMemory, quiet: Duration) -> tokio::task::JoinHandle<()> {
    let period = (quiet / 2).max(Duration::from_secs(1));
    jobs::every(period, "release hash memory", move || {
        let released = idle.release(Instant::now(), quiet);
        async move { Ok(released as u64) }
    })
}

/// Recounts live sessions for the gauge: a query every half minute per
/// replica, not one per request.
fn count_live_sessions(
    db: Db,
    clock: SharedClock,
    sessions: SessionPolicy,
) -> tokio::task::JoinHandle<()> {
    jobs::every(COUNT_SESSIONS_EVERY, "count live sessions", move || {
        let db = db.clone();
        let now = clock.now();
        let idle_since = now - sessions.idle_timeout;
        async move {
            let live = session_rows::count_live(&db, now, idle_since)
                .await
                .map_err(|e| e.to_string())?;
            metrics::live_sessions(live);
            Ok(0)
        }
    })
}

impl MetricsListener {
    async fn bind(
        addr: SocketAddr,
        state: AppState,
        handle: PrometheusHandle,
    ) -> Result<Self, StartupError> {
        let bind_error = |source| StartupError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        Ok(Self {
            listener,
            local_addr,
            router: routes::metrics::router(state, handle),
        })
    }
}

/// Deletes, every few minutes, the rows that ran out (see `retention`).
fn purge(
    db: Db,
    clock: SharedClock,
    sessions: SessionPolicy,
    retention: RetentionPolicy,
) -> tokio::task::JoinHandle<()> {
    jobs::every(PURGE_EVERY, "purge", move || {
        let db = db.clone();
        let now = clock.now();
        async move {
            retention::purge(&db, &sessions, &retention, now)
                .await
                .map(|purged| purged.total())
                .map_err(|e| e.to_string())
        }
    })
}

fn leptos_options(config: &Config, addr: SocketAddr) -> LeptosOptions {
    // Pages link the hashed names only where the build made them.
    let hashed = assets::hash_file().is_some();
    LeptosOptions::builder()
        .hash_files(hashed)
        .output_name("portcullis")
        .site_root(config.http.site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .env(if config.is_production() {
            leptos::config::Env::PROD
        } else {
            leptos::config::Env::DEV
        })
        .build()
}

fn router(state: AppState, config: &Config) -> Router {
    let routes = generate_route_list(App);
    let development = !config.is_production();
    let page_context = {
        let state = state.clone();
        move || {
            provide_context(state.clone());
            security_headers::set_page_headers(development);
        }
    };
    let shell_options = state.leptos_options.clone();
    let naming = if state.leptos_options.hash_files {
        Naming::Hashed
    } else {
        Naming::Plain
    };
    // Pages (and the 404 page) get their session read before they render.
    let pages = Router::new()
        .leptos_routes_with_context(&state, routes, page_context.clone(), move || {
            shell(shell_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(page_context, shell))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            admin_pages::read,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            page_session::read,
        ));
    let app = Router::new()
        .merge(routes::router(cors::layer(&config.http.cors_origins)))
        .merge(assets::router(&config.http.site_root, naming))
        .merge(pages)
        .layer(middleware::from_fn_with_state(state.clone(), csrf::guard));
    let app = app
        .layer(middleware::from_fn(limits::limit_body))
        .merge(routes::gateway())
        .layer(middleware::from_fn_with_state(
            Limits::new(config.load),
            limits::enforce,
        ))
        .layer(middleware::from_fn(methods::refuse_connect_and_trace))
        .layer(middleware::from_fn(request_id::request_id));
    // Without a metrics listener nothing would read what this records.
    let app = if config.metrics.listen_addr.is_some() {
        app.layer(middleware::from_fn(record_metrics::record))
    } else {
        app
    };
    security_headers::harden(app, config.cookies.secure()).with_state(state)
}
