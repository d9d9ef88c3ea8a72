//! Waking idle workers: a connection that `LISTEN`s on the store's channel, counting the
//! notifications other processes' commits send (the job helper fills this in).

use crate::connect::ConnectOptions;

/// Counts the store's notifications (see [`brain_store::jobs::ChangeNotifier`]).
pub(crate) struct Notifier {
    #[allow(dead_code)]
    options: ConnectOptions,
}

impl Notifier {
    pub(crate) fn new(options: ConnectOptions) -> Self {
        Self { options }
    }
}
