//! The directory's SQL, written once for SQLite and PostgreSQL.
//!
//! A [`Db`] is either the embedded SQLite connection or a PostgreSQL pool; a [`Tx`] is one
//! transaction on either. Statements use `$1…` placeholders (rewritten to `?1…` for SQLite)
//! and the dialect both share (`ON CONFLICT … DO NOTHING/UPDATE`, `RETURNING`,
//! `IS NOT DISTINCT FROM`); values cross as [`Val`] (booleans are 0/1 integers on both
//! sides, and a PostgreSQL `bool` result reads back as 0/1), rows come back as [`Row`]s
//! with typed getters.
//!
//! Transactions: on SQLite a write takes the file's write lock up front (`BEGIN
//! IMMEDIATE`). On PostgreSQL a write takes one transaction-scoped advisory lock first, so
//! writes from every node are serialised exactly as on SQLite and a read-then-write
//! sequence (does the user exist? then insert) cannot interleave with another node's. A
//! read is one `REPEATABLE READ, READ ONLY` transaction: one consistent view.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use rusqlite::TransactionBehavior;

use crate::pg::{PgError, PgPool};

/// The advisory lock every directory write takes on PostgreSQL (any fixed number; the
/// store's locks use others).
const WRITE_LOCK: i64 = 0x6669_656c_6464_6972; // "fielddir"

/// A failure below the directory's own checks.
#[derive(Debug)]
pub(crate) enum SqlError {
    Lite(rusqlite::Error),
    Pg(PgError),
    /// A column did not hold what the directory wrote there.
    Conversion(String),
}

impl SqlError {
    /// A UNIQUE or PRIMARY KEY constraint refused the row.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            SqlError::Lite(e) => {
                matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::ConstraintViolation)
                ) && {
                    let s = e.to_string();
                    s.contains("UNIQUE") || s.contains("PRIMARY KEY")
                }
            }
            SqlError::Pg(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            SqlError::Conversion(_) => false,
        }
    }
}

impl From<rusqlite::Error> for SqlError {
    fn from(e: rusqlite::Error) -> Self {
        SqlError::Lite(e)
    }
}

impl From<postgres::Error> for SqlError {
    fn from(e: postgres::Error) -> Self {
        SqlError::Pg(PgError::Db(e))
    }
}

impl From<PgError> for SqlError {
    fn from(e: PgError) -> Self {
        SqlError::Pg(e)
    }
}

/// One value, bound or read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    I64(i64),
    Text(String),
    Bytes(Vec<u8>),
    Null,
}

/// Turned into a [`Val`] by [`vals!`].
pub(crate) trait ToVal {
    fn to_val(&self) -> Val;
}

impl ToVal for i64 {
    fn to_val(&self) -> Val {
        Val::I64(*self)
    }
}
impl ToVal for bool {
    fn to_val(&self) -> Val {
        Val::I64(i64::from(*self))
    }
}
impl ToVal for str {
    fn to_val(&self) -> Val {
        Val::Text(self.to_owned())
    }
}
impl ToVal for String {
    fn to_val(&self) -> Val {
        Val::Text(self.clone())
    }
}
impl ToVal for [u8] {
    fn to_val(&self) -> Val {
        Val::Bytes(self.to_vec())
    }
}
impl ToVal for Vec<u8> {
    fn to_val(&self) -> Val {
        Val::Bytes(self.clone())
    }
}
impl<T: ToVal + ?Sized> ToVal for &T {
    fn to_val(&self) -> Val {
        (**self).to_val()
    }
}
impl<T: ToVal> ToVal for Option<T> {
    fn to_val(&self) -> Val {
        match self {
            Some(v) => v.to_val(),
            None => Val::Null,
        }
    }
}

/// `vals![a, b, c]`: the parameters of one statement, as `&[Val]`.
macro_rules! vals {
    ($($x:expr),* $(,)?) => {
        &[$($crate::accounts::sql::ToVal::to_val(&$x)),*][..]
    };
}
pub(crate) use vals;

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Val::I64(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Val::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Val::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Val::Null => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::I64(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                _ => Err(format!("an integer cannot go into a {ty} parameter").into()),
            },
            Val::Text(s) => s.as_str().to_sql(ty, out),
            Val::Bytes(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8
                | Type::INT4
                | Type::INT2
                | Type::BOOL
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UNKNOWN
                | Type::BYTEA
        )
    }

    to_sql_checked!();
}

/// One result row.
#[derive(Debug)]
pub(crate) struct Row(Vec<Val>);

fn wrong(idx: usize, want: &str, got: &Val) -> SqlError {
    let got = match got {
        Val::I64(_) => "an integer",
        Val::Text(_) => "text",
        Val::Bytes(_) => "bytes",
        Val::Null => "NULL",
    };
    SqlError::Conversion(format!("column {idx} holds {got}, not {want}"))
}

impl Row {
    fn at(&self, idx: usize) -> Result<&Val, SqlError> {
        self.0
            .get(idx)
            .ok_or_else(|| SqlError::Conversion(format!("no column {idx}")))
    }
    pub fn i64(&self, idx: usize) -> Result<i64, SqlError> {
        match self.at(idx)? {
            Val::I64(v) => Ok(*v),
            other => Err(wrong(idx, "an integer", other)),
        }
    }
    pub fn opt_i64(&self, idx: usize) -> Result<Option<i64>, SqlError> {
        match self.at(idx)? {
            Val::Null => Ok(None),
            _ => self.i64(idx).map(Some),
        }
    }
    pub fn bool(&self, idx: usize) -> Result<bool, SqlError> {
        match self.i64(idx)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(SqlError::Conversion(format!(
                "column {idx} holds {v}, not 0 or 1"
            ))),
        }
    }
    pub fn text(&self, idx: usize) -> Result<String, SqlError> {
        match self.at(idx)? {
            Val::Text(s) => Ok(s.clone()),
            other => Err(wrong(idx, "text", other)),
        }
    }
    pub fn opt_text(&self, idx: usize) -> Result<Option<String>, SqlError> {
        match self.at(idx)? {
            Val::Null => Ok(None),
            _ => self.text(idx).map(Some),
        }
    }
    pub fn bytes(&self, idx: usize) -> Result<Vec<u8>, SqlError> {
        match self.at(idx)? {
            Val::Bytes(b) => Ok(b.clone()),
            other => Err(wrong(idx, "bytes", other)),
        }
    }
}

fn lite_row(r: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Row> {
    use rusqlite::types::ValueRef;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(match r.get_ref(i)? {
            ValueRef::Null => Val::Null,
            ValueRef::Integer(v) => Val::I64(v),
            ValueRef::Real(v) => {
                return Err(rusqlite::Error::FromSqlConversionFailure(
                    i,
                    rusqlite::types::Type::Real,
                    format!("unexpected real {v}").into(),
                ))
            }
            ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Val::Bytes(b.to_vec()),
        });
    }
    Ok(Row(out))
}

fn pg_row(r: &postgres::Row) -> Result<Row, SqlError> {
    let mut out = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let ty = col.type_();
        let v = match *ty {
            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Val::I64),
            Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map(|v| Val::I64(v.into())),
            Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(|v| Val::I64(v.into())),
            Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(|v| Val::I64(v.into())),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                r.try_get::<_, Option<String>>(i)?.map(Val::Text)
            }
            Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map(Val::Bytes),
            _ => {
                return Err(SqlError::Conversion(format!(
                    "column {i} has the unexpected type {ty}"
                )))
            }
        };
        out.push(v.unwrap_or(Val::Null));
    }
    Ok(Row(out))
}

/// `$1` → `?1` (SQLite reads `$1` as a *named* parameter, bound in order of appearance).
fn sqlite_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// One transaction on either back end.
pub(crate) enum Tx<'a> {
    Lite(rusqlite::Transaction<'a>),
    Pg(RefCell<postgres::Transaction<'a>>),
}

impl Tx<'_> {
    /// Run a statement; how many rows it changed.
    pub fn exec(&self, sql: &str, params: &[Val]) -> Result<usize, SqlError> {
        match self {
            Tx::Lite(tx) => {
                let mut stmt = tx.prepare_cached(&sqlite_sql(sql))?;
                Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))?)
            }
            Tx::Pg(tx) => {
                let p: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                let n = tx.borrow_mut().execute(sql, &p)?;
                usize::try_from(n).map_err(|_| SqlError::Conversion("a row count".into()))
            }
        }
    }

    /// Every row of a query.
    pub fn query(&self, sql: &str, params: &[Val]) -> Result<Vec<Row>, SqlError> {
        match self {
            Tx::Lite(tx) => {
                let mut stmt = tx.prepare_cached(&sqlite_sql(sql))?;
                let n = stmt.column_count();
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                        lite_row(r, n)
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            }
            Tx::Pg(tx) => {
                let p: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                tx.borrow_mut().query(sql, &p)?.iter().map(pg_row).collect()
            }
        }
    }

    /// The first row, if there is one.
    pub fn query_opt(&self, sql: &str, params: &[Val]) -> Result<Option<Row>, SqlError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The one row a query must return (`SELECT EXISTS …`, `SELECT count(*) …`).
    pub fn query_one(&self, sql: &str, params: &[Val]) -> Result<Row, SqlError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| SqlError::Conversion("a query returned no row".into()))
    }
}

/// Where the directory lives.
#[derive(Clone)]
pub(crate) enum Db {
    Lite(Arc<Mutex<rusqlite::Connection>>),
    Pg(PgPool),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Read,
    Write,
}

impl Db {
    /// Run `f` in one transaction, committed when it returns `Ok` (rolled back otherwise).
    /// `E` carries both SQL failures and the caller's own.
    pub fn transaction<T, E>(
        &self,
        mode: Mode,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E> + Send,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<SqlError> + Send + 'static,
    {
        match self {
            Db::Lite(conn) => {
                // A panic while holding the lock cannot leave a half transaction: SQLite
                // rolls back.
                let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
                let behavior = match mode {
                    Mode::Read => TransactionBehavior::Deferred,
                    Mode::Write => TransactionBehavior::Immediate,
                };
                let tx = Tx::Lite(
                    conn.transaction_with_behavior(behavior)
                        .map_err(SqlError::from)?,
                );
                let out = f(&tx)?;
                match tx {
                    Tx::Lite(tx) => tx.commit().map_err(SqlError::from)?,
                    Tx::Pg(_) => unreachable!("a SQLite transaction"),
                }
                Ok(out)
            }
            Db::Pg(pool) => run_scoped(pool, move |client| {
                let mut builder = client.build_transaction();
                if mode == Mode::Read {
                    builder = builder
                        .isolation_level(postgres::IsolationLevel::RepeatableRead)
                        .read_only(true);
                }
                let mut tx = builder.start().map_err(SqlError::from)?;
                if mode == Mode::Write {
                    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                        .map_err(SqlError::from)?;
                }
                let tx = Tx::Pg(RefCell::new(tx));
                let out = f(&tx)?;
                match tx {
                    Tx::Pg(tx) => tx.into_inner().commit().map_err(SqlError::from)?,
                    Tx::Lite(_) => unreachable!("a PostgreSQL transaction"),
                }
                Ok(out)
            }),
        }
    }
}

/// Run `f` on one of the pool's connections and wait for it, letting `f` borrow from the
/// caller (the directory's methods pass their arguments by reference).
fn run_scoped<'f, T, E>(
    pool: &PgPool,
    f: impl FnOnce(&mut postgres::Client) -> Result<T, E> + Send + 'f,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<SqlError> + Send + 'static,
{
    type Job<'f, T, E> = Box<dyn FnOnce(&mut postgres::Client) -> Result<T, E> + Send + 'f>;
    let job: Job<'f, T, E> = Box::new(f);
    // SAFETY: `PgPool::run` blocks this thread until the job has run and replied, or until
    // the job was dropped without running (the pool stopped; its reply channel closes only
    // when the job and everything it captured is gone). Either way nothing `f` borrows is
    // used after this function returns, so extending its lifetime to `'static` for the
    // pool's queue is sound (the same argument as a scoped thread's).
    let job: Job<'static, T, E> = unsafe { std::mem::transmute(job) };
    let nested = pool.run(move |client| Ok(job(client)));
    match nested {
        Ok(r) => r,
        Err(e) => Err(E::from(SqlError::Pg(e))),
    }
}

/// A fresh database per test on the throwaway cluster `TEST_POSTGRES_URL` names (the test
/// command starts it: `scripts/pg-cluster.sh`). The integration tests have their own copy in
/// `tests/support/pg.rs`; unit tests cannot reach that.
#[cfg(test)]
pub(crate) mod testdb {
    pub const URL_VAR: &str = "TEST_POSTGRES_URL";

    /// A new, empty database; its URL. Connects on a thread of its own, so it is safe to
    /// call from anywhere.
    pub fn fresh_database() -> String {
        std::thread::spawn(|| {
            let base = std::env::var(URL_VAR).unwrap_or_else(|_| {
                panic!(
                    "{URL_VAR} is not set: the PostgreSQL tests need the throwaway cluster. \
                     Run scripts/test.sh, or `export {URL_VAR}=$(scripts/pg-cluster.sh start /tmp/fb-pg)`"
                )
            });
            let name = format!("t_{:016x}", rand::random::<u64>());
            let mut admin = postgres::Client::connect(&base, postgres::NoTls)
                .unwrap_or_else(|e| panic!("cannot reach the test cluster at {URL_VAR}: {e}"));
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create a test database");
            crate::pg::with_database(&base, &name)
        })
        .join()
        .expect("create a test database")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_sqlites_numbered_ones() {
        assert_eq!(
            sqlite_sql("SELECT 1 WHERE a = $1 AND b = $12 AND c = '$x'"),
            "SELECT 1 WHERE a = ?1 AND b = ?12 AND c = '$x'"
        );
    }

    #[test]
    fn values_read_back_with_typed_getters() {
        let row = Row(vec![
            Val::I64(1),
            Val::Null,
            Val::Text("t".into()),
            Val::Bytes(vec![1]),
        ]);
        assert!(row.bool(0).unwrap());
        assert_eq!(row.opt_i64(1).unwrap(), None);
        assert_eq!(row.opt_text(1).unwrap(), None);
        assert_eq!(row.text(2).unwrap(), "t");
        assert_eq!(row.bytes(3).unwrap(), vec![1]);
        assert!(row.text(0).is_err());
        assert!(row.i64(2).is_err());
        assert!(row.i64(9).is_err());
        assert_eq!(vals![3i64, true, "a", None::<String>, Some("b")].len(), 5);
    }
}
