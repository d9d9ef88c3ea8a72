//! The pool, and every call's transaction.
//!
//! Each connection keeps the statements it prepared (a statement is one round trip to prepare,
//! and an import runs the same few thousands of times). A read is one `REPEATABLE READ, READ
//! ONLY` transaction, so its statements see one snapshot, as a SQLite read does. A write is a
//! `READ COMMITTED` transaction whose rows are locked as they are read (`FOR UPDATE`); when the
//! server rolls it back for a reason another attempt does not meet (a deadlock, a
//! serialization failure, a unique key two writers raced for) it is run again, up to
//! [`WRITE_ATTEMPTS`] times. A write that changed entities numbers its changes last, under the
//! feed's lock (see `changes.rs`).

use std::collections::HashMap;
use std::time::Duration;

use brain_store::{Result, StoreError};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{IsolationLevel, NoTls, Row, Statement};

use crate::connect::ConnectOptions;

/// Attempts of a write the server rolled back for a race (see the module doc).
const WRITE_ATTEMPTS: u32 = 8;

/// Connections a store holds at most: a daemon's workers, its watcher and HTTP handlers.
const POOL_SIZE: u32 = 16;

/// One pooled connection with its prepared statements.
pub(crate) struct Conn {
    client: postgres::Client,
    statements: HashMap<String, Statement>,
}

/// Opens connections for r2d2.
pub(crate) struct Manager {
    options: ConnectOptions,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Conn, postgres::Error> {
        let client = match &self.tls {
            Some(tls) => self.options.config.connect(tls.clone())?,
            None => self.options.config.connect(NoTls)?,
        };
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(drop)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.client.is_closed()
    }
}

/// r2d2's failed connection attempts, logged at debug: while a server is down the pool retries
/// in a loop, and the call that waits for it reports the outage once, as
/// [`StoreError::Unavailable`] (r2d2's own handler logged every attempt as an error).
#[derive(Debug)]
struct QuietErrors;

impl r2d2::HandleError<postgres::Error> for QuietErrors {
    fn handle_error(&self, error: postgres::Error) {
        tracing::debug!(%error, "a connection to the store's database failed");
    }
}

/// The store's connections.
pub(crate) struct Pool {
    pool: r2d2::Pool<Manager>,
    shown: String,
    /// What this handle's notifications carry (see `jobs::notify`), so its own listener
    /// skips the ones its writes send.
    notify_token: String,
    /// Whether changes keep the versions they replace (`Store::keep_history`).
    keeps_history: std::sync::atomic::AtomicBool,
}

impl Pool {
    /// Connects (one connection at once, so a wrong URL or password fails here, said plainly).
    pub(crate) fn connect(options: &ConnectOptions) -> Result<Self> {
        let shown = options.shown().to_string();
        let tls = options.connector()?;
        let manager = Manager {
            options: options.clone(),
            tls,
        };
        // Tried once first, so the error is the server's (no such database, wrong password),
        // not r2d2's timeout.
        first_connection(&manager, &shown)?;
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(0))
            .connection_timeout(options.connect_timeout())
            .error_handler(Box::new(QuietErrors))
            .build(manager)
            .map_err(|e| StoreError::Unavailable {
                database: shown.clone(),
                source: Box::new(e),
            })?;
        Ok(Self {
            pool,
            shown,
            notify_token: String::new(),
            keeps_history: std::sync::atomic::AtomicBool::new(true),
        })
    }

    /// Turns keeping history on or off for the transactions started from now on.
    pub(crate) fn keep_history(&self, on: bool) {
        self.keeps_history
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Marks this pool's notifications with `token` (its store handle's).
    pub(crate) fn with_notify_token(mut self, token: &str) -> Self {
        self.notify_token = token.to_string();
        self
    }

    /// The database without its password.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    fn get(&self) -> Result<r2d2::PooledConnection<Manager>> {
        self.pool.get().map_err(|e| StoreError::Unavailable {
            database: self.shown.clone(),
            source: Box::new(e),
        })
    }

    /// Whether the server answers within `limit` (a connection from the pool, and `SELECT 1`):
    /// a cheap look for a process that must not wait out the connect timeout to learn that
    /// the server is away.
    pub(crate) fn answers_within(&self, limit: std::time::Duration) -> Result<()> {
        let mut conn = self
            .pool
            .get_timeout(limit)
            .map_err(|e| StoreError::Unavailable {
                database: self.shown.clone(),
                source: Box::new(e),
            })?;
        conn.client
            .simple_query("SELECT 1")
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable {
                database: self.shown.clone(),
                source: Box::new(e),
            })
    }

    /// Runs `f` in one read-only snapshot.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&mut Db<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.get()?;
        let Conn { client, statements } = &mut *conn;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| self.error(e))?;
        let mut db = Db {
            tx,
            statements,
            changed: false,
            keeps_history: self
                .keeps_history
                .load(std::sync::atomic::Ordering::Relaxed),
        };
        let out = f(&mut db).map_err(|e| self.explain(e))?;
        db.tx.commit().map_err(|e| self.error(e))?;
        Ok(out)
    }

    /// Runs `f` in one write transaction, again when the server rolled it back for a race.
    pub(crate) fn write<T>(&self, mut f: impl FnMut(&mut Db<'_>) -> Result<T>) -> Result<T> {
        let mut attempt = 1;
        loop {
            match self.write_once(&mut f) {
                Err(Raced(e)) if attempt < WRITE_ATTEMPTS => {
                    tracing::debug!(attempt, error = %e, "write raced another; running it again");
                    attempt += 1;
                }
                Err(Raced(e)) | Err(Failed(e)) => return Err(e),
                Ok(out) => return Ok(out),
            }
        }
    }

    fn write_once<T>(
        &self,
        f: &mut impl FnMut(&mut Db<'_>) -> Result<T>,
    ) -> std::result::Result<T, WriteError> {
        let mut conn = self.get().map_err(Failed)?;
        let Conn { client, statements } = &mut *conn;
        let tx = client.transaction().map_err(|e| self.classify(e))?;
        let mut db = Db {
            tx,
            statements,
            changed: false,
            keeps_history: self
                .keeps_history
                .load(std::sync::atomic::Ordering::Relaxed),
        };
        let out = match f(&mut db) {
            Ok(out) => out,
            Err(StoreError::Database(source)) => {
                return Err(match source.downcast::<postgres::Error>() {
                    Ok(pg) => self.classify(*pg),
                    Err(other) => Failed(StoreError::Database(other)),
                });
            }
            Err(e) => return Err(Failed(self.explain(e))),
        };
        if db.changed {
            crate::changes::number_pending(&mut db, &self.notify_token)
                .map_err(|e| self.reclassify(e))?;
        }
        db.tx.commit().map_err(|e| self.classify(e))?;
        Ok(out)
    }

    /// A server error: one another attempt may not meet ([`Raced`]) or not.
    fn classify(&self, e: postgres::Error) -> WriteError {
        let raced = e.code().is_some_and(|c| {
            *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::UNIQUE_VIOLATION
        });
        if raced {
            Raced(self.error(e))
        } else {
            Failed(self.error(e))
        }
    }

    fn reclassify(&self, e: StoreError) -> WriteError {
        match e {
            StoreError::Database(source) => match source.downcast::<postgres::Error>() {
                Ok(pg) => self.classify(*pg),
                Err(other) => Failed(StoreError::Database(other)),
            },
            other => Failed(other),
        }
    }

    /// Runs one statement as its own transaction (no `BEGIN`/`COMMIT` round trips): for the
    /// queue's hot path (a claim, a finish, a heartbeat), each a single statement whose
    /// atomicity is the statement's own. Not retried: a caller that races reports it.
    pub(crate) fn single<T>(&self, f: impl FnOnce(&mut Single<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.get()?;
        let Conn { client, statements } = &mut *conn;
        let mut one = Single { client, statements };
        f(&mut one).map_err(|e| self.explain(e))
    }

    /// A client error as a store error: a lost connection is [`StoreError::Unavailable`].
    pub(crate) fn error(&self, e: postgres::Error) -> StoreError {
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        if e.is_closed() || io {
            return StoreError::Unavailable {
                database: self.shown.clone(),
                source: Box::new(ServerError::new(e)),
            };
        }
        if e.code().is_some_and(|c| {
            *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || *c == SqlState::CONNECTION_FAILURE
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
        }) {
            return StoreError::Unavailable {
                database: self.shown.clone(),
                source: Box::new(ServerError::new(e)),
            };
        }
        StoreError::Database(Box::new(ServerError::new(e)))
    }

    /// A store error from a call's body, with a client error in it made [`Pool::error`]'s.
    fn explain(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Database(source) => match source.downcast::<postgres::Error>() {
                Ok(pg) => self.error(*pg),
                Err(other) => StoreError::Database(other),
            },
            other => other,
        }
    }
}

enum WriteError {
    Raced(StoreError),
    Failed(StoreError),
}
use WriteError::{Failed, Raced};

/// The first connection, within the connect timeout. The client's own `connect_timeout` only
/// bounds reaching the socket; a server that accepts and then never answers (stopped with
/// SIGSTOP, a stuck proxy) would hang its start-up forever, so the attempt runs on a thread
/// this one stops waiting for (it ends when the socket does).
fn first_connection(manager: &Manager, shown: &str) -> Result<()> {
    let attempt = Manager {
        options: manager.options.clone(),
        tls: manager.tls.clone(),
    };
    let timeout = manager.options.connect_timeout();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("brain-pg-connect".into())
        .spawn(move || {
            let _ = tx.send(r2d2::ManageConnection::connect(&attempt).map(drop));
        })
        .map_err(|e| StoreError::Unavailable {
            database: shown.to_string(),
            source: Box::new(e),
        })?;
    match rx.recv_timeout(timeout + Duration::from_millis(500)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(open_error(shown, e)),
        Err(_) => Err(StoreError::Unavailable {
            database: shown.to_string(),
            source: format!(
                "it accepted no session within {} s (connect_timeout in the URL sets how long \
                 to wait)",
                timeout.as_secs_f64()
            )
            .into(),
        }),
    }
}

fn open_error(shown: &str, e: postgres::Error) -> StoreError {
    match e.as_db_error() {
        // The server's own words (no such database, password authentication failed...).
        Some(_) => StoreError::Open {
            path: shown.to_string(),
            source: Box::new(ServerError::new(e)),
        },
        // The server asked for a password and none was found: it did answer.
        None if e.to_string().contains("password missing")
            || crate::connect::with_causes(&e).contains("password missing") =>
        {
            StoreError::Open {
                path: shown.to_string(),
                source: "the server asks for a password and none was given: put it in \
                         PGPASSWORD, in ~/.pgpass (or PGPASSFILE) or in a service file \
                         (PGSERVICE), never in the URL"
                    .into(),
            }
        }
        // No server answered (refused, unreachable, TLS failed): said with what to check.
        None => StoreError::Unavailable {
            database: shown.to_string(),
            source: Box::new(ServerError::new(e)),
        },
    }
}

/// A client error in the server's own words.
///
/// The client's `Display` of a statement the server refused is only "db error"; the reason
/// (permission denied for schema public, invalid byte sequence, statement timeout...) is in
/// its `DbError`, which this shows with its detail, hint and SQLSTATE, so a person or agent
/// can act on it.
#[derive(Debug)]
pub struct ServerError {
    text: String,
    error: postgres::Error,
}

impl ServerError {
    pub(crate) fn new(error: postgres::Error) -> Self {
        let text = match error.as_db_error() {
            Some(db) => {
                let mut text = format!("the server said: {}", db.message());
                if let Some(detail) = db.detail() {
                    text.push_str(&format!(" ({detail})"));
                }
                if let Some(hint) = db.hint() {
                    text.push_str(&format!("; hint: {hint}"));
                }
                text.push_str(&format!(" [SQLSTATE {}]", db.code().code()));
                text
            }
            None => crate::connect::with_causes(&error),
        };
        Self { text, error }
    }

    /// The SQLSTATE of the server's error, if the server sent one.
    pub fn code(&self) -> Option<&SqlState> {
        self.error.code()
    }
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for ServerError {}

/// One transaction, with the connection's prepared statements.
pub(crate) struct Db<'a> {
    pub(crate) tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
    /// Whether an entity change was recorded (numbered before the commit).
    pub(crate) changed: bool,
    /// Whether a change keeps the version it replaces (`[history] keep`).
    pub(crate) keeps_history: bool,
}

/// `?` on a client call inside a store call.
pub(crate) fn db_err(e: postgres::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

impl Db<'_> {
    /// `sql` prepared on this connection (once per connection).
    pub(crate) fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql).map_err(db_err)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Every row of `sql`.
    pub(crate) fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let s = self.statement(sql)?;
        self.tx.query(&s, params).map_err(db_err)
    }

    /// The one row of `sql`, or `None`.
    pub(crate) fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        let s = self.statement(sql)?;
        self.tx.query_opt(&s, params).map_err(db_err)
    }

    /// The one row of `sql`.
    pub(crate) fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        let s = self.statement(sql)?;
        self.tx.query_one(&s, params).map_err(db_err)
    }

    /// Runs `sql`; the rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let s = self.statement(sql)?;
        self.tx.execute(&s, params).map_err(db_err)
    }

    /// Runs statements with no parameters and no cache (the schema's migrations).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<()> {
        self.tx.batch_execute(sql).map_err(db_err)
    }
}

/// A connection outside a transaction, for [`Pool::single`].
pub(crate) struct Single<'a> {
    client: &'a mut postgres::Client,
    statements: &'a mut HashMap<String, Statement>,
}

impl Single<'_> {
    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).map_err(db_err)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Every row of `sql`, committed as one statement.
    pub(crate) fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let s = self.statement(sql)?;
        self.client.query(&s, params).map_err(db_err)
    }

    /// Runs `sql`, committed as one statement; the rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let s = self.statement(sql)?;
        self.client.execute(&s, params).map_err(db_err)
    }
}

/// A column read, as a store error when the stored value is not of the expected type.
pub(crate) fn get<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T> {
    row.try_get(idx).map_err(db_err)
}
