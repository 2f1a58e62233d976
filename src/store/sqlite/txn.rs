//! A SQLite transaction: the connection it holds (the writer, or a reader
//! given back when it ends), its commit, and its rollback when dropped.

use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::OwnedMutexGuard;

use super::conn::{Readers, run};
use super::open::SqliteStore;
use crate::store::error::StoreResult;

/// The connection a transaction runs on.
pub(super) enum Conn {
    Writer(OwnedMutexGuard<Connection>),
    /// A reading connection, given back to its pool when the transaction ends.
    Reader(Option<Connection>, Arc<Readers>),
}

pub(super) struct SqliteTxn {
    pub(super) conn: Conn,
    /// Until commit: dropping an open transaction rolls it back.
    pub(super) open: bool,
}

impl SqliteTxn {
    pub(super) fn c(&self) -> &Connection {
        match &self.conn {
            Conn::Writer(w) => w,
            Conn::Reader(r, _) => r.as_ref().expect("a reader until the transaction ends"),
        }
    }

    /// Commits (or, if COMMIT fails, rolls back): the transaction is over.
    pub(super) fn finish(&mut self) -> StoreResult<()> {
        self.open = false;
        let conn = self.c();
        run(conn, "COMMIT", []).map(|_| ()).inspect_err(|_| {
            if !conn.is_autocommit() {
                let _ = run(conn, "ROLLBACK", []);
            }
        })
    }
}

impl Drop for SqliteTxn {
    fn drop(&mut self) {
        if self.open {
            let _ = run(self.c(), "ROLLBACK", []);
        }
        if let Conn::Reader(reader, pool) = &mut self.conn
            && let Some(conn) = reader.take()
            && conn.is_autocommit()
        {
            pool.give_back(conn);
        }
    }
}

impl SqliteStore {
    /// A write transaction, once the writer before has finished.
    pub(super) async fn write_txn(&self) -> StoreResult<SqliteTxn> {
        let writer = self.writer().await?;
        run(&writer, "BEGIN IMMEDIATE", [])?;
        Ok(SqliteTxn {
            conn: Conn::Writer(writer),
            open: true,
        })
    }
}
