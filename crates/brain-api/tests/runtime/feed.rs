//! A change-feed subscriber gets every change at least once: a page it refuses is offered
//! again (the cursor moves only past pages it took), and one it took is never offered again.

use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use brain_api::plugin::{BoxError, FeedStart};
use brain_api::{Plugin, PluginContext, PluginError, Runtime, RuntimeContext};
use brain_core::Config;

use super::{GENEROUS, pool, probe, store};

/// Subscribes to the feed from its start and refuses the first page it is offered; sends the
/// change numbers of every page offered.
struct Refuses {
    offered: Sender<Vec<u64>>,
}

impl Plugin for Refuses {
    fn name(&self) -> &str {
        "refuses"
    }

    fn register(&self, ctx: &mut PluginContext) -> Result<(), PluginError> {
        let offered = self.offered.clone();
        let mut refused = false;
        ctx.subscribe_changes(
            "changes",
            FeedStart::After(0),
            move |_: &RuntimeContext, page| {
                let _ = offered.send(page.changes.iter().map(|c| c.seq).collect());
                if refused {
                    return Ok(());
                }
                refused = true;
                Err::<(), BoxError>("not ready yet".into())
            },
        )
    }
}

#[test]
fn a_page_the_subscriber_refuses_is_offered_again_and_one_it_took_never_is() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store.put(&probe::note("first", "# first\n")).unwrap();
    let (tx, offered) = mpsc::channel();
    let plugins: Vec<Box<dyn Plugin>> = vec![Box::new(Refuses { offered: tx })];
    let mut runtime = Runtime::new(dir.path(), Config::default(), store.clone(), plugins)
        .unwrap()
        .with_feed_poll(Duration::from_millis(20));
    runtime.start(pool()).unwrap();

    let refused = offered.recv_timeout(GENEROUS).unwrap();
    assert_eq!(
        refused.len(),
        1,
        "the change made before the start: {refused:?}"
    );
    let again = offered.recv_timeout(GENEROUS).unwrap();
    assert_eq!(again, refused, "the refused page is offered again");

    store.put(&probe::note("second", "# second\n")).unwrap();
    let next = offered.recv_timeout(GENEROUS).unwrap();
    assert_eq!(next.len(), 1, "{next:?}");
    assert!(
        next[0] > refused[0],
        "only the new change: {next:?} after {refused:?}"
    );
    runtime.stop();
}
