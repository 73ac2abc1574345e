//! The creation-time index of jobs: order, paging, filters, and the one-time build for a
//! store written before the index existed.

use convoy_proto::v1::JobRecord;

use super::JobCursor;
use crate::store::Store;

fn job(id: &str, created: i64) -> JobRecord {
    JobRecord {
        id: id.into(),
        created_unix_ms: created,
        ..Default::default()
    }
}

fn ids(jobs: &[JobRecord]) -> Vec<&str> {
    jobs.iter().map(|j| j.id.as_str()).collect()
}

#[test]
fn jobs_list_newest_first_by_creation_time_not_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Rollout jobs (`r-…`) sort after `j-…` by id; by time they are interleaved.
    for (id, at) in [
        ("r-old", 1_000),
        ("j-mid", 2_000),
        ("r-new", 3_000),
        ("j-newest", 4_000),
    ] {
        store.put_job(&job(id, at)).unwrap();
    }
    let (page, next) = store.jobs_page(None, 10, 100, |_| true).unwrap();
    assert_eq!(ids(&page), ["j-newest", "r-new", "j-mid", "r-old"]);
    assert_eq!(next, None);
    // The old listing by id hid the newest `j-` job behind every `r-` one.
    let (page, next) = store.jobs_page(None, 2, 100, |_| true).unwrap();
    assert_eq!(ids(&page), ["j-newest", "r-new"]);
    let next = next.expect("a second page");
    let token = next.token();
    assert_eq!(JobCursor::parse(&token), Some(next.clone()));
    let (page, more) = store.jobs_page(Some(&next), 2, 100, |_| true).unwrap();
    assert_eq!(ids(&page), ["j-mid", "r-old"]);
    assert_eq!(more, None);
    // Writing a job again (its state changed) does not duplicate it.
    store.put_job(&job("j-mid", 2_000)).unwrap();
    let (page, _) = store.jobs_page(None, 10, 100, |_| true).unwrap();
    assert_eq!(page.len(), 4);
    // A filter, and a scan bound that hands back a cursor to go on from.
    let (page, next) = store
        .jobs_page(None, 10, 2, |j| j.id.starts_with("r-"))
        .unwrap();
    assert_eq!(ids(&page), ["r-new"]);
    let (page, _) = store
        .jobs_page(next.as_ref(), 10, 100, |j| j.id.starts_with("r-"))
        .unwrap();
    assert_eq!(ids(&page), ["r-old"]);
    assert_eq!(JobCursor::parse("garbage"), None);
}

#[test]
fn a_store_from_before_the_index_is_indexed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.put_job(&job("j-a", 5)).unwrap();
        store.put_job(&job("r-b", 9)).unwrap();
        // As an older coordinator left it: jobs, no index.
        store.jobs_by_time.clear().unwrap();
        store.db.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let (page, _) = store.jobs_page(None, 10, 100, |_| true).unwrap();
    assert_eq!(ids(&page), ["r-b", "j-a"]);
}
