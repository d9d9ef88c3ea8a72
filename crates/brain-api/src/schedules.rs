//! Schedules (recurring jobs) as every interface reads them: `brain schedules list`, `brain
//! status`, and later the web page.

use brain_store::schedules::Schedule;

use crate::{Brain, BrainError};

impl Brain {
    /// Every schedule of the store, by name, with its next and last run (the daemon's built-in
    /// ones and the `[[schedule]]` blocks of `config.toml`, once a `brain serve` registered
    /// them).
    pub fn schedules(&self) -> Result<Vec<Schedule>, BrainError> {
        self.store.schedules().map_err(BrainError::record)
    }
}
