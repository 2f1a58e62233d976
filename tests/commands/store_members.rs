//! The members table (lists, sets, sorted sets) on both backends: the
//! same operations give the same answers on SQLite and MariaDB.

use crate::common;

use bytes::Bytes;
use respire::store::{
    self, Access, Bound, KeyKind, Member, MemberRange, Store, position_member, score_order,
};
use std::sync::Arc;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn zm(member: &str, score: f64) -> Member {
    Member {
        member: b(member),
        score: score_order(score),
        value: Bytes::new(),
    }
}

fn names(rows: &[Member]) -> Vec<String> {
    rows.iter()
        .map(|m| String::from_utf8_lossy(&m.member).into_owned())
        .collect()
}

async fn exercise(store: Arc<dyn Store>) {
    let mut t = store.begin(Access::Write).await.unwrap();
    t.members_put(
        0,
        b"z",
        KeyKind::ZSet,
        &[
            zm("a", 1.0),
            zm("b", 2.0),
            zm("c", 2.0),
            zm("d", f64::INFINITY),
        ],
    )
    .await
    .unwrap();
    // Replacing a member's score.
    t.members_put(0, b"z", KeyKind::ZSet, &[zm("a", -1.5)])
        .await
        .unwrap();
    let meta = t.meta(0, b"z").await.unwrap().unwrap();
    assert_eq!(meta.kind, KeyKind::ZSet);
    assert_eq!(t.members_len(0, b"z").await.unwrap(), 4);
    let got = t
        .members_get(0, b"z", &[b("a"), b("x"), b("c")])
        .await
        .unwrap();
    assert_eq!(got[0].as_ref().unwrap().score, score_order(-1.5));
    assert!(got[1].is_none());
    assert_eq!(got[2].as_ref().unwrap().score, score_order(2.0));
    t.commit().await.unwrap();

    let mut t = store.begin(Access::Read).await.unwrap();
    let all = t
        .members_range(0, b"z", &MemberRange::All, false, 0, None)
        .await
        .unwrap();
    assert_eq!(names(&all), ["a", "b", "c", "d"]);
    let rev = t
        .members_range(0, b"z", &MemberRange::All, true, 1, Some(2))
        .await
        .unwrap();
    assert_eq!(names(&rev), ["c", "b"]);
    let by_score = MemberRange::Score(
        Bound::Excluded(score_order(-1.5)),
        Bound::Included(score_order(2.0)),
    );
    assert_eq!(t.members_count(0, b"z", &by_score).await.unwrap(), 2);
    let by_member = MemberRange::Member(Bound::Included(b("b")), Bound::Unbounded);
    let rows = t
        .members_range(0, b"z", &by_member, true, 0, None)
        .await
        .unwrap();
    assert_eq!(names(&rows), ["d", "c", "b"]);
    // Ranks: ties on the score are ordered by member.
    for (member, score, rank) in [
        ("a", -1.5, 0),
        ("b", 2.0, 1),
        ("c", 2.0, 2),
        ("d", f64::INFINITY, 3),
        ("bb", 2.0, 2),
    ] {
        let got = t
            .members_rank(0, b"z", score_order(score), member.as_bytes())
            .await
            .unwrap();
        assert_eq!(got, rank, "{member}");
    }
    assert_eq!(t.members_rank(0, b"missing", 0, b"a").await.unwrap(), 0);
    t.commit().await.unwrap();

    let mut t = store.begin(Access::Write).await.unwrap();
    let before = t.meta(0, b"z").await.unwrap().unwrap().version;
    assert_eq!(
        t.members_delete(0, b"z", &[b("a"), b("nope")])
            .await
            .unwrap(),
        1
    );
    assert_ne!(t.meta(0, b"z").await.unwrap().unwrap().version, before);
    assert_eq!(
        t.members_delete_range(0, b"z", &by_member).await.unwrap(),
        3
    );
    assert_eq!(t.members_len(0, b"z").await.unwrap(), 0);
    assert!(t.delete(0, b"z").await.unwrap());
    t.commit().await.unwrap();

    // A list created and deleted in one transaction leaves nothing.
    let mut t = store.begin(Access::Write).await.unwrap();
    let rows: Vec<Member> = (0..3)
        .map(|p| Member {
            member: position_member(p),
            score: p,
            value: b(&format!("v{p}")),
        })
        .collect();
    t.members_put(1, b"l", KeyKind::List, &rows).await.unwrap();
    assert!(t.delete(1, b"l").await.unwrap());
    t.members_put(1, b"l2", KeyKind::List, &rows).await.unwrap();
    t.commit().await.unwrap();
    let mut t = store.begin(Access::Read).await.unwrap();
    assert!(t.meta(1, b"l").await.unwrap().is_none());
    assert_eq!(t.members_len(1, b"l").await.unwrap(), 0);
    assert_eq!(t.members_span(1, b"l").await.unwrap(), None);
    assert_eq!(t.members_span(1, b"l2").await.unwrap(), Some((0, 2)));
    let two = t
        .members_range(
            1,
            b"l2",
            &MemberRange::Score(Bound::Included(1), Bound::Unbounded),
            false,
            0,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        two.iter().map(|m| m.value.clone()).collect::<Vec<_>>(),
        [b("v1"), b("v2")]
    );
    t.commit().await.unwrap();

    // SWAPDB moves members with their keys, both ways.
    let mut t = store.begin(Access::Write).await.unwrap();
    t.members_put(2, b"s", KeyKind::Set, &[zm("m2", 0.0)])
        .await
        .unwrap();
    t.swap_db(1, 2).await.unwrap();
    assert_eq!(t.members_len(2, b"l2").await.unwrap(), 3);
    assert_eq!(t.members_len(1, b"l2").await.unwrap(), 0);
    assert_eq!(t.members_len(1, b"s").await.unwrap(), 1);
    assert_eq!(t.meta(1, b"s").await.unwrap().unwrap().kind, KeyKind::Set);
    t.swap_db(2, 1).await.unwrap();
    t.commit().await.unwrap();
    let mut t = store.begin(Access::Read).await.unwrap();
    assert_eq!(t.members_len(1, b"l2").await.unwrap(), 3);
    assert_eq!(t.members_len(2, b"s").await.unwrap(), 1);
    t.commit().await.unwrap();

    // FLUSHDB removes members too.
    let mut t = store.begin(Access::Write).await.unwrap();
    t.flush(Some(1)).await.unwrap();
    t.commit().await.unwrap();
    let mut t = store.begin(Access::Read).await.unwrap();
    assert_eq!(t.members_len(1, b"l2").await.unwrap(), 0);
    t.commit().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn members_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    exercise(store::open(&url).await.unwrap()).await;
}

#[tokio::test]
async fn members_on_mariadb() {
    let Some(db) = common::TestDb::create().await else {
        return;
    };
    let store = store::mysql::MySqlStore::open(&db.url).unwrap();
    assert!(store.wait_ready(std::time::Duration::from_secs(30)).await);
    exercise(Arc::new(store)).await;
}
