//! The write transaction as the store's row-level writes see it: the SQLite transaction and
//! the settings of the store handle that opened it.

use std::ops::Deref;

use rusqlite::Transaction;

/// One write transaction. It derefs to the SQLite transaction, so a function that only runs
/// statements takes `&Transaction`; the writes that keep history take `&StoreTx` to read
/// [`StoreTx::keeps_history`].
pub(crate) struct StoreTx<'c> {
    tx: Transaction<'c>,
    keeps_history: bool,
}

impl<'c> StoreTx<'c> {
    pub(crate) fn new(tx: Transaction<'c>, keeps_history: bool) -> Self {
        Self { tx, keeps_history }
    }

    /// Whether a change keeps the version it replaces (`[history] keep`, on unless turned
    /// off): when off, versions are still numbered, but the replaced text is not stored.
    pub(crate) fn keeps_history(&self) -> bool {
        self.keeps_history
    }

    pub(crate) fn commit(self) -> rusqlite::Result<()> {
        self.tx.commit()
    }
}

impl<'c> Deref for StoreTx<'c> {
    type Target = Transaction<'c>;

    fn deref(&self) -> &Transaction<'c> {
        &self.tx
    }
}
