//! The performance targets, checked against a report's figures.

use super::report::{Goal, Report, ratio};
use super::targets::{Store, Target};

/// What a row's value is divided by before the bound applies.
enum Versus {
    /// Nothing: the value itself.
    Itself,
    /// The same row on the reference.
    Reference,
    /// The row's database ceiling.
    Database,
    /// Another row of the same target.
    Row(&'static str),
}

/// How the figure is held against its bound.
enum Bound {
    AtLeast(f64),
    AtMost(f64),
    Below(f64),
}

/// Which respire targets a goal is for.
enum For {
    All,
    Embedded,
    MySql,
}

struct Spec {
    text: &'static str,
    applies: For,
    row: &'static str,
    versus: Versus,
    bound: Bound,
}

/// The targets of issue 13 ("Performance"): the embedded store at half of
/// Redis for writes and most of it for reads, MariaDB at or above the
/// database's own one-row rates, pipelines that pay off, PUBLISH over NATS
/// near Redis, memory near Redis's, and notifications still prompt.
const SPECS: &[Spec] = &[
    Spec {
        text: "SET -c 50 / redis >= 0.5x",
        applies: For::Embedded,
        row: "set.c50",
        versus: Versus::Reference,
        bound: Bound::AtLeast(0.5),
    },
    Spec {
        text: "HSET -c 50 / redis >= 0.5x",
        applies: For::Embedded,
        row: "hset.c50",
        versus: Versus::Reference,
        bound: Bound::AtLeast(0.5),
    },
    Spec {
        text: "INCR -c 50 / redis >= 0.5x",
        applies: For::Embedded,
        row: "incr.c50",
        versus: Versus::Reference,
        bound: Bound::AtLeast(0.5),
    },
    Spec {
        text: "GET -c 50 / redis >= 0.8x",
        applies: For::Embedded,
        row: "get.c50",
        versus: Versus::Reference,
        bound: Bound::AtLeast(0.8),
    },
    Spec {
        text: "HGETALL -c 50 / redis >= 0.8x",
        applies: For::Embedded,
        row: "hgetall.c50",
        versus: Versus::Reference,
        bound: Bound::AtLeast(0.8),
    },
    Spec {
        text: "SET -c 50 / DB upsert c50 >= 1x",
        applies: For::MySql,
        row: "set.c50",
        versus: Versus::Database,
        bound: Bound::AtLeast(1.0),
    },
    Spec {
        text: "HSET -c 50 / DB upsert c50 >= 1x",
        applies: For::MySql,
        row: "hset.c50",
        versus: Versus::Database,
        bound: Bound::AtLeast(1.0),
    },
    Spec {
        text: "INCR -c 50 / DB upsert c50 >= 1x",
        applies: For::MySql,
        row: "incr.c50",
        versus: Versus::Database,
        bound: Bound::AtLeast(1.0),
    },
    Spec {
        text: "GET -c 50 / DB point-select c50 >= 1x",
        applies: For::MySql,
        row: "get.c50",
        versus: Versus::Database,
        bound: Bound::AtLeast(1.0),
    },
    Spec {
        text: "SET -c 50 -P 16 / own -P 1 >= 5x",
        applies: For::All,
        row: "set.c50p16",
        versus: Versus::Row("set.c50"),
        bound: Bound::AtLeast(5.0),
    },
    Spec {
        text: "GET -c 50 -P 16 / own -P 1 >= 5x",
        applies: For::All,
        row: "get.c50p16",
        versus: Versus::Row("get.c50"),
        bound: Bound::AtLeast(5.0),
    },
    Spec {
        text: "GET -c 50 tracking / no tracking >= 0.9x",
        applies: For::All,
        row: "trk.get.on",
        versus: Versus::Row("trk.get.off"),
        bound: Bound::AtLeast(0.9),
    },
    Spec {
        text: "XADD -c 50 / own SET -c 50 >= 0.5x",
        applies: For::All,
        row: "xadd.c50",
        versus: Versus::Row("set.c50"),
        bound: Bound::AtLeast(0.5),
    },
    Spec {
        text: "EVALSHA (incr script) -c 50 / own INCR -c 50 >= 0.7x",
        applies: For::All,
        row: "evalsha.c50",
        versus: Versus::Row("incr.c50"),
        bound: Bound::AtLeast(0.7),
    },
    Spec {
        text: "ion mix / redis >= 0.5x",
        applies: For::Embedded,
        row: "ion.c50",
        versus: Versus::Reference,
        bound: Bound::AtLeast(0.5),
    },
    Spec {
        text: "ion mix / redis >= 0.25x",
        applies: For::MySql,
        row: "ion.c50",
        versus: Versus::Reference,
        bound: Bound::AtLeast(0.25),
    },
    Spec {
        text: "PUBLISH -c 50 / redis >= 0.9x",
        applies: For::All,
        row: "publish.c50",
        versus: Versus::Reference,
        bound: Bound::AtLeast(0.9),
    },
    Spec {
        text: "notification p99 < 10 ms",
        applies: For::All,
        row: "notify.p99",
        versus: Versus::Itself,
        bound: Bound::Below(10.0),
    },
    Spec {
        text: "PUBLISH p99 < 10 ms",
        applies: For::All,
        row: "publat.p99",
        versus: Versus::Itself,
        bound: Bound::Below(10.0),
    },
    Spec {
        text: "RSS after the load / redis <= 2x",
        applies: For::All,
        row: "rss.after",
        versus: Versus::Reference,
        bound: Bound::AtMost(2.0),
    },
    Spec {
        text: "RSS per idle connection / redis <= 1x",
        applies: For::All,
        row: "rss.per_conn",
        versus: Versus::Reference,
        bound: Bound::AtMost(1.0),
    },
    Spec {
        text: "RSS growth per distinct key touched < 64 B",
        applies: For::All,
        row: "rss.per_key",
        versus: Versus::Itself,
        bound: Bound::Below(64.0),
    },
    Spec {
        text: "100,000 channel subscriptions: time / redis <= 2x",
        applies: For::All,
        row: "chan.time",
        versus: Versus::Reference,
        bound: Bound::AtMost(2.0),
    },
    Spec {
        text: "100,000 channel subscriptions: RSS growth / redis <= 2x",
        applies: For::All,
        row: "chan.rss",
        versus: Versus::Reference,
        bound: Bound::AtMost(2.0),
    },
    Spec {
        text: "100,000 channel subscriptions: RSS after unsubscribing <= 1.2x before",
        applies: For::All,
        row: "chan.after",
        versus: Versus::Itself,
        bound: Bound::AtMost(1.2),
    },
    Spec {
        text: "10,000 pattern subscriptions: time / redis <= 2x",
        applies: For::All,
        row: "pat.time",
        versus: Versus::Reference,
        bound: Bound::AtMost(2.0),
    },
    Spec {
        text: "10,000 pattern subscriptions: RSS growth / redis <= 2x",
        applies: For::All,
        row: "pat.rss",
        versus: Versus::Reference,
        bound: Bound::AtMost(2.0),
    },
    Spec {
        text: "10,000 pattern subscriptions: RSS after unsubscribing <= 1.2x before",
        applies: For::All,
        row: "pat.after",
        versus: Versus::Itself,
        bound: Bound::AtMost(1.2),
    },
    Spec {
        text: "RSS per subscriber (10,000 connections, a channel each) / redis <= 2x",
        applies: For::All,
        row: "rss.per_sub",
        versus: Versus::Reference,
        bound: Bound::AtMost(2.0),
    },
    Spec {
        text: "base RSS < 50 MB",
        applies: For::All,
        row: "rss.idle",
        versus: Versus::Itself,
        bound: Bound::Below(50.0),
    },
];

/// Every goal that applies to each respire target.
pub fn evaluate(report: &Report, targets: &[Target]) -> Vec<Goal> {
    let value = |id: &str, col: usize| report.row(id).and_then(|r| r.value(col));
    let ceiling = |id: &str, col: usize| report.row(id).and_then(|r| r.ceiling(col));
    let mut goals = Vec::new();
    for (col, target) in targets.iter().enumerate() {
        let Some(store) = &target.store else { continue };
        for spec in SPECS {
            let applies = match spec.applies {
                For::All => true,
                For::Embedded => matches!(store, Store::Sqlite(_)),
                For::MySql => matches!(store, Store::MySql(_)),
            };
            if !applies {
                continue;
            }
            let figure = value(spec.row, col);
            let figure = match spec.versus {
                Versus::Itself => figure,
                Versus::Reference => ratio(figure, value(spec.row, report.reference)),
                Versus::Database => ratio(figure, ceiling(spec.row, col)),
                Versus::Row(other) => ratio(figure, value(other, col)),
            };
            goals.push(Goal {
                text: spec.text.to_string(),
                target: report.columns[col].clone(),
                value: figure,
                pass: figure.map(|v| match spec.bound {
                    Bound::AtLeast(min) => v >= min,
                    Bound::AtMost(max) => v <= max,
                    Bound::Below(max) => v < max,
                }),
            });
        }
    }
    goals
}
