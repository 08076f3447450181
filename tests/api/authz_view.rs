//! Each server's in-memory view of the sessions it checked: the session
//! check needs no database read once a session is known, and a change made
//! by another writer (another replica, another process on the SQLite file)
//! still ends that session's authority within a second.

use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};

use crate::helpers::{spawn_app, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_session_revoked_by_another_writer_is_refused_within_a_second,
    a_user_disabled_by_another_writer_is_refused_within_a_second,
);

/// How long until `/api/auth/me` refuses `access`, polling every 10 ms.
pub async fn refused_after(app: &TestApp, access: &str) -> Duration {
    let started = Instant::now();
    loop {
        let status = app
            .new_client()
            .get(app.url("/api/auth/me"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status();
        if status == 401 {
            return started.elapsed();
        }
        assert_eq!(status, 200);
        assert!(started.elapsed() < Duration::from_secs(5), "never refused");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn known_session(app: &TestApp) -> crate::helpers::BearerSession {
    let session = app.bearer_session().await;
    // Checked twice: the first check reads the database, the second may not.
    for _ in 0..2 {
        let me = app
            .new_client()
            .get(app.url("/api/auth/me"))
            .bearer_auth(&session.access)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200);
    }
    session
}

async fn a_session_revoked_by_another_writer_is_refused_within_a_second(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = known_session(&app).await;
    // The test's own connection writes, as another replica would.
    let revoked = app
        .sql
        .execute(&format!(
            "UPDATE sessions SET revoked_at = created_at WHERE user_id = \
             (SELECT id FROM users WHERE email = '{}')",
            session.email
        ))
        .await
        .unwrap();
    assert_eq!(revoked, 2, "the sign-up's session and the sign-in's");
    let took = refused_after(&app, &session.access).await;
    assert!(took <= Duration::from_secs(1), "{took:?}");
}

async fn a_user_disabled_by_another_writer_is_refused_within_a_second(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = known_session(&app).await;
    // `1 = 1`: true on both backends.
    let disabled = app
        .sql
        .execute(&format!(
            "UPDATE users SET disabled = (1 = 1) WHERE email = '{}'",
            session.email
        ))
        .await
        .unwrap();
    assert_eq!(disabled, 1);
    let took = refused_after(&app, &session.access).await;
    assert!(took <= Duration::from_secs(1), "{took:?}");
}

/// With the sessions and users tables locked against every reader, a
/// session the server knows is still checked (a database read would wait
/// for the lock); a session it does not know waits, as it must.
#[tokio::test]
async fn a_known_session_is_checked_without_reading_the_database() {
    let app = spawn_app(Backend::Postgres).await;
    let known = known_session(&app).await;
    let unknown = app.bearer_session().await;

    let mut locker = PgConnection::connect(&app.database.url).await.unwrap();
    locker.execute("BEGIN").await.unwrap();
    locker
        .execute("LOCK TABLE sessions, users IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    let me = |access: String| {
        let client = app.new_client();
        let url = app.url("/api/auth/me");
        async move {
            tokio::time::timeout(
                Duration::from_secs(2),
                client.get(url).bearer_auth(access).send(),
            )
            .await
        }
    };
    for _ in 0..20 {
        let answered = me(known.access.clone()).await;
        assert_eq!(answered.expect("answered at once").unwrap().status(), 200);
    }
    assert!(
        me(unknown.access.clone()).await.is_err(),
        "read through the lock"
    );

    locker.execute("ROLLBACK").await.unwrap();
    let answered = me(unknown.access.clone()).await;
    assert_eq!(answered.expect("answered").unwrap().status(), 200);
}
