//! The contract every [`crate::Backend`] must keep, as executable checks.
//!
//! Like River's driver test suite: each backend's own tests expand
//! [`conformance_tests!`](crate::conformance_tests) with a factory for fresh, empty stores, which
//! writes one `#[test]` per case (`entities::put_and_get_round_trip`, ...), so SQLite and
//! PostgreSQL are held to exactly the same behaviour, a failing case hides no other, and one
//! area or case can be run alone by name. Every case takes a new store from the factory;
//! nothing depends on the order of cases.
//!
//! The checks panic with a message on failure (this is test code that ships in the library,
//! behind the `conformance` feature, so backends' tests can run it); they need nothing but the
//! traits and `brain-core`. One file per area; the jobs area has one file per part of the queue.

#[doc(hidden)]
pub mod changes;
#[doc(hidden)]
pub mod conflicts;
#[doc(hidden)]
pub mod copy;
#[doc(hidden)]
pub mod entities;
#[doc(hidden)]
pub mod history;
#[doc(hidden)]
pub mod jobs;
#[doc(hidden)]
pub mod runtime;
#[doc(hidden)]
pub mod search;
#[doc(hidden)]
pub mod sync;
#[doc(hidden)]
pub mod sync_moved;

use brain_core::{Document, Entity, EntityRef, content_hash};

pub use crate::Backend;

/// Makes a fresh, empty store for one case.
pub type Factory<'a> = &'a dyn Fn() -> Box<dyn Backend>;

/// Writes one `#[test]` per conformance case, in one module per area, each running its case on
/// a store from `$make` (an expression evaluating to a `Fn() -> Box<dyn Backend>`; it is
/// evaluated once per test, inside the area's module, so name items by absolute paths such as
/// `crate::fresh_store`).
///
/// The list below is every case of the suite; a new case is added here and nowhere else.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests! {
            @areas $make;
            entities {
                put_and_get_round_trip => entities::put_and_get_round_trip,
                put_outcomes_and_created_kept => entities::put_outcomes_and_created_kept,
                missing_entities_are_not_found => entities::missing_entities_are_not_found,
                get_many_reads_live_entities_in_order => entities::get_many_reads_live_entities_in_order,
                soft_delete_and_restore => entities::soft_delete_and_restore,
                put_over_tombstone_is_created => entities::put_over_tombstone_is_created,
                path_collisions_are_refused => entities::path_collisions_are_refused,
                list_filters_order_and_paging => entities::list_filters_order_and_paging,
            }
            sync {
                import_creates_entity_and_base => sync::import_creates_entity_and_base,
                import_updates_clears_dirty_and_revives => sync::import_updates_clears_dirty_and_revives,
                rename_moves_the_row => sync::rename_moves_the_row,
                rename_over_a_tombstone => sync::rename_over_a_tombstone,
                rename_fallbacks_lose_nothing => sync::rename_fallbacks_lose_nothing,
                rename_with_a_side_changed_meanwhile_applies_the_other => sync::rename_with_a_side_changed_meanwhile_applies_the_other,
                tombstone_hides_and_drops_base => sync::tombstone_hides_and_drops_base,
                replaced_tombstones_are_archived => sync::replaced_tombstones_are_archived,
                set_base_and_drop_base_clear_dirty => sync::set_base_and_drop_base_clear_dirty,
                interface_writes_are_dirty => sync::interface_writes_are_dirty,
                a_failing_batch_changes_nothing => sync::a_failing_batch_changes_nothing,
                state_of_some_paths_is_the_whole_state_cut_down => sync::state_of_some_paths_is_the_whole_state_cut_down,
                a_base_set_after_a_move_follows_the_note => sync_moved::a_base_set_after_a_move_follows_the_note,
                a_first_base_set_after_a_move_follows_the_note => sync_moved::a_first_base_set_after_a_move_follows_the_note,
            }
            search {
                query_language => search::query_language,
                filters_and_limit => search::filters_and_limit,
                path_and_meta_filters => search::path_and_meta_filters,
                pages_follow_the_ranking => search::pages_follow_the_ranking,
                snippets_are_highlighted => search::snippets_are_highlighted,
                index_follows_every_write => search::index_follows_every_write,
                folds_diacritics_and_case => search::folds_diacritics_and_case,
                hostile_queries_never_fail => search::hostile_queries_never_fail,
            }
            conflicts {
                record_list_and_show => conflicts::record_list_and_show,
                open_duplicates_are_ignored => conflicts::open_duplicates_are_ignored,
                resolve => conflicts::resolve,
            }
            runtime {
                set_read_and_replace => runtime::set_read_and_replace,
            }
            history {
                every_change_keeps_the_version_it_replaced => history::every_change_keeps_the_version_it_replaced,
                unchanged_writes_make_no_version_and_unknown_ones_are_refused => history::unchanged_writes_make_no_version_and_unknown_ones_are_refused,
                a_rename_keeps_the_history => history::a_rename_keeps_the_history,
                a_transaction_without_entity_writes_makes_no_version => history::a_transaction_without_entity_writes_makes_no_version,
                retention_thins_old_versions_and_the_rest_read_back => history::retention_thins_old_versions_and_the_rest_read_back,
                a_move_keeps_the_entity_and_its_history => history::a_move_keeps_the_entity_and_its_history,
                with_history_off_versions_are_numbered_not_kept => history::with_history_off_versions_are_numbered_not_kept,
            }
            copy {
                a_dump_loads_into_an_empty_store_unchanged => copy::a_dump_loads_into_an_empty_store_unchanged,
                a_store_holding_a_brain_is_replaced_only_when_asked => copy::a_store_holding_a_brain_is_replaced_only_when_asked,
            }
            changes {
                every_change_is_numbered_once_in_order => changes::every_change_is_numbered_once_in_order,
                pages_read_on_from_next => changes::pages_read_on_from_next,
                a_consumer_reading_while_writers_commit_misses_nothing => changes::a_consumer_reading_while_writers_commit_misses_nothing,
            }
            jobs {
                enqueue_and_read_back => jobs::enqueueing::enqueue_and_read_back,
                list_filters_and_order => jobs::enqueueing::list_filters_and_order,
                invalid_jobs_are_refused => jobs::enqueueing::invalid_jobs_are_refused,
                claim_by_priority_then_age => jobs::claiming::claim_by_priority_then_age,
                claim_respects_run_at_and_types => jobs::claiming::claim_respects_run_at_and_types,
                claim_limit_is_shared_across_types_by_priority => jobs::claiming::claim_limit_is_shared_across_types_by_priority,
                per_type_concurrency_counts_every_worker => jobs::claiming::per_type_concurrency_counts_every_worker,
                success_is_final => jobs::lifecycle::success_is_final,
                a_reaped_lease_cannot_finish => jobs::lifecycle::a_reaped_lease_cannot_finish,
                heartbeats_keep_the_lease => jobs::lifecycle::heartbeats_keep_the_lease,
                reaping_the_last_attempt_fails_the_job => jobs::lifecycle::reaping_the_last_attempt_fails_the_job,
                backoff_then_failure => jobs::lifecycle::backoff_then_failure,
                cancel_by_state => jobs::cancel_retry::cancel_by_state,
                cancel_requests_reach_the_worker => jobs::cancel_retry::cancel_requests_reach_the_worker,
                cancelling_a_batch_root_cascades => jobs::cancel_retry::cancelling_a_batch_root_cascades,
                batch_status_counts_children => jobs::cancel_retry::batch_status_counts_children,
                a_batch_is_enqueued_whole_or_not_at_all => jobs::cancel_retry::a_batch_is_enqueued_whole_or_not_at_all,
                retry_only_failed_or_cancelled => jobs::cancel_retry::retry_only_failed_or_cancelled,
                dedupe_skip => jobs::dedupe::dedupe_skip,
                dedupe_replace => jobs::dedupe::dedupe_replace,
                dedupe_coalesce => jobs::dedupe::dedupe_coalesce,
                progress_only_from_the_lease_holder => jobs::lifecycle::progress_only_from_the_lease_holder,
                prune_keeps_unfinished_batches => jobs::prune::prune_keeps_unfinished_batches,
                put_and_enqueue_is_one_transaction => jobs::outbox::put_and_enqueue_is_one_transaction,
                delete_and_restore_are_one_transaction_with_their_job => jobs::outbox::delete_and_restore_are_one_transaction_with_their_job,
                a_transaction_commits_everything_or_nothing => jobs::outbox::a_transaction_commits_everything_or_nothing,
                put_only_over_the_expected_version => jobs::compare_and_set::put_only_over_the_expected_version,
                a_paused_type_is_not_claimed_until_resumed => jobs::pausing::a_paused_type_is_not_claimed_until_resumed,
                pausing_is_idempotent_and_listed_sorted => jobs::pausing::pausing_is_idempotent_and_listed_sorted,
                paused_jobs_still_queue_dedupe_and_cancel => jobs::pausing::paused_jobs_still_queue_dedupe_and_cancel,
                next_run_at_is_the_earliest_queued_unpaused_job => jobs::due::next_run_at_is_the_earliest_queued_unpaused_job,
                job_counts_are_the_queue_depth => jobs::due::job_counts_are_the_queue_depth,
                a_due_time_fires_once_whoever_fires_it => jobs::recurring::a_due_time_fires_once_whoever_fires_it,
                an_unchanged_definition_keeps_its_timing => jobs::recurring::an_unchanged_definition_keeps_its_timing,
                schedules_left_out_of_their_source_are_removed => jobs::recurring::schedules_left_out_of_their_source_are_removed,
            }
        }
    };
    (@areas $make:expr; $( $area:ident { $( $case:ident => $($path:ident)::+ , )* } )*) => {
        $(
            #[allow(missing_docs)]
            mod $area {
                $(
                    #[test]
                    fn $case() {
                        let make = $make;
                        $crate::conformance::$($path)::+(&make);
                    }
                )*
            }
        )*
    };
}

/// A fixed "now" for cases, in milliseconds since the epoch.
pub const T0: i64 = 1_800_000_000_000;

/// Builds an entity the way an import does: `r` is `type/id`, `text` the whole file.
///
/// The path follows the vault mapping (`note/a/b` is `a/b.md`, `topic/x` is `topic/x.md`);
/// title, tags, metadata and hash come from `brain-core`'s codec, and both times are `now_ms`.
pub fn entity(r: &str, text: &str, now_ms: i64) -> Entity {
    let entity_ref: EntityRef = r.parse().expect("conformance refs are TYPE/ID");
    let path = if entity_ref.entity_type == brain_core::path::NOTE_TYPE {
        format!("{}.md", entity_ref.id)
    } else {
        format!("{}/{}.md", entity_ref.entity_type, entity_ref.id)
    };
    let doc = Document::parse(text).expect("conformance notes parse");
    let stem = entity_ref
        .id
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    Entity {
        title: doc.title(&stem),
        tags: doc.tags(),
        content_hash: content_hash(text.as_bytes()),
        path,
        metadata: doc.metadata,
        frontmatter: doc.frontmatter,
        body: doc.body,
        entity_ref,
        created_ms: now_ms,
        updated_ms: now_ms,
        deleted_ms: None,
    }
}

/// Parses `type/id`.
pub fn eref(r: &str) -> EntityRef {
    r.parse().expect("conformance refs are TYPE/ID")
}
