//! What a database error means for the work that met it, read from the database's own codes
//! (SQLite result codes, PostgreSQL SQLSTATEs), never from the text of its message.

use sea_orm::sqlx::postgres::PgDatabaseError;
use sea_orm::sqlx::sqlite::SqliteError;
use sea_orm::{DbErr, RuntimeErr, sqlx};

/// The meaning of a database error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// A concurrent writer got there first (a unique key taken meanwhile, a lock that could not
    /// be had, a serialization failure, a deadlock): the work can run again from fresh reads.
    Contention,
    /// The database cannot take the work now (disk full, I/O error, connection lost or
    /// refused, out of memory or connections): nothing of it was kept; retry later.
    Unavailable,
    /// A value the database cannot store (a NUL character in PostgreSQL text, a row too big).
    Unstorable,
    /// Anything else.
    Other,
}

/// Classifies `e` by the database's code for it.
pub(crate) fn classify(e: &DbErr) -> Fault {
    let runtime = match e {
        DbErr::ConnectionAcquire(_) => return Fault::Unavailable,
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return Fault::Other,
    };
    let RuntimeErr::SqlxError(e) = runtime else {
        return Fault::Other;
    };
    match &**e {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<SqliteError>().is_some() {
                sqlite_fault(code.parse().unwrap_or(0))
            } else if db.try_downcast_ref::<PgDatabaseError>().is_some() {
                postgres_fault(&code)
            } else {
                Fault::Other
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Fault::Unavailable,
        _ => Fault::Other,
    }
}

/// SQLite's extended result code: the primary code is its low byte
/// (<https://sqlite.org/rescode.html>).
fn sqlite_fault(code: i32) -> Fault {
    const SQLITE_CONSTRAINT_PRIMARYKEY: i32 = 1555;
    const SQLITE_CONSTRAINT_UNIQUE: i32 = 2067;
    match (code & 0xff, code) {
        (_, SQLITE_CONSTRAINT_PRIMARYKEY | SQLITE_CONSTRAINT_UNIQUE) => Fault::Contention,
        // SQLITE_BUSY, SQLITE_LOCKED
        (5 | 6, _) => Fault::Contention,
        // SQLITE_NOMEM, SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN
        (7 | 8 | 10 | 13 | 14, _) => Fault::Unavailable,
        // SQLITE_TOOBIG
        (18, _) => Fault::Unstorable,
        _ => Fault::Other,
    }
}

/// PostgreSQL's SQLSTATE (<https://www.postgresql.org/docs/current/errcodes-appendix.html>).
fn postgres_fault(state: &str) -> Fault {
    match state {
        // unique_violation, serialization_failure, deadlock_detected, lock_not_available
        "23505" | "40001" | "40P01" | "55P03" => Fault::Contention,
        // character_not_in_repertoire, untranslatable_character, program_limit_exceeded
        "22021" | "22P05" | "54000" => Fault::Unstorable,
        // admin_shutdown, crash_shutdown, cannot_connect_now
        "57P01" | "57P02" | "57P03" => Fault::Unavailable,
        // connection_exception (08), insufficient_resources (53: disk full, out of memory,
        // too many connections)
        s if s.starts_with("08") || s.starts_with("53") => Fault::Unavailable,
        _ => Fault::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes() {
        assert_eq!(sqlite_fault(13), Fault::Unavailable, "SQLITE_FULL");
        assert_eq!(
            sqlite_fault(10 | (4 << 8)),
            Fault::Unavailable,
            "SQLITE_IOERR_WRITE"
        );
        assert_eq!(sqlite_fault(5), Fault::Contention, "SQLITE_BUSY");
        assert_eq!(
            sqlite_fault(5 | (3 << 8)),
            Fault::Contention,
            "SQLITE_BUSY_TIMEOUT"
        );
        assert_eq!(
            sqlite_fault(2067),
            Fault::Contention,
            "SQLITE_CONSTRAINT_UNIQUE"
        );
        assert_eq!(
            sqlite_fault(787),
            Fault::Other,
            "SQLITE_CONSTRAINT_FOREIGNKEY"
        );
        assert_eq!(sqlite_fault(1), Fault::Other, "SQLITE_ERROR");
    }

    #[test]
    fn postgres_states() {
        assert_eq!(postgres_fault("53100"), Fault::Unavailable, "disk_full");
        assert_eq!(
            postgres_fault("08006"),
            Fault::Unavailable,
            "connection_failure"
        );
        assert_eq!(
            postgres_fault("57P01"),
            Fault::Unavailable,
            "admin_shutdown"
        );
        assert_eq!(postgres_fault("40001"), Fault::Contention);
        assert_eq!(postgres_fault("23505"), Fault::Contention);
        assert_eq!(postgres_fault("22021"), Fault::Unstorable);
        assert_eq!(postgres_fault("42P01"), Fault::Other, "undefined_table");
    }
}
