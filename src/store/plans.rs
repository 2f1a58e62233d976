//! The event log's plans, computed the same way by both backends and
//! unit-tested here: what a sequencer step numbers and counts, what a trim
//! counts out, and a stream's counters row.

use super::event::{SETTING_CLASS, StreamId, StreamState};

/// An event the sequencer found without a number: (id, db, class).
pub(crate) type Unsequenced = (i64, i64, i64);

/// What one sequencer step writes, whatever the backend: each event's
/// number (after `last_seq`, in id order), and per database the count and
/// last number added to its stream (setting events belong to no stream).
/// The entry for db -1 is the sequence itself.
pub(crate) struct SequencePlan {
    pub numbers: Vec<(i64, i64)>,
    pub streams: Vec<(i64, i64, i64)>,
}

impl SequencePlan {
    pub(crate) fn new(rows: &[Unsequenced], last_seq: i64) -> SequencePlan {
        let mut numbers = Vec::with_capacity(rows.len());
        let mut streams: Vec<(i64, i64, i64)> = vec![(-1, 0, last_seq)];
        let mut seq = last_seq;
        for &(id, db, class) in rows {
            seq += 1;
            numbers.push((id, seq));
            streams[0].1 += 1;
            streams[0].2 = seq;
            if class == SETTING_CLASS as i64 {
                continue;
            }
            match streams.iter_mut().find(|s| s.0 == db) {
                Some(s) => {
                    s.1 += 1;
                    s.2 = seq;
                }
                None => streams.push((db, 1, seq)),
            }
        }
        SequencePlan { numbers, streams }
    }
}

/// A stream's counters row: (added, deleted, last_seq, last_ms,
/// max_deleted_seq, max_deleted_ms).
pub(crate) fn stream_state(row: (i64, i64, i64, i64, i64, i64)) -> StreamState {
    let (added, deleted, last_seq, last_ms, max_deleted_seq, max_deleted_ms) = row;
    StreamState {
        added,
        deleted,
        last: StreamId {
            ms: last_ms,
            seq: last_seq,
        },
        max_deleted: StreamId {
            ms: max_deleted_ms,
            seq: max_deleted_seq,
        },
    }
}

/// A sequenced event a trim found: (seq, ms, db, class).
pub(crate) type Trimmed = (i64, i64, i64, i64);

/// Per database, how many entries a trim deletes and the last of them:
/// (db, count, max-deleted-entry-id).
pub(crate) fn trim_plan(rows: &[Trimmed]) -> Vec<(i64, i64, StreamId)> {
    let mut out: Vec<(i64, i64, StreamId)> = Vec::new();
    for &(seq, ms, db, class) in rows {
        if class == SETTING_CLASS as i64 {
            continue;
        }
        let id = StreamId { ms, seq };
        match out.iter_mut().find(|s| s.0 == db) {
            Some(s) => {
                s.1 += 1;
                s.2 = s.2.max(id);
            }
            None => out.push((db, 1, id)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::store::event::StreamId;
    use crate::store::plans::{SequencePlan, trim_plan};

    #[test]
    fn a_sequence_step_numbers_in_order_and_counts_per_stream() {
        let rows = [
            (7, 0, b'$' as i64),
            (9, 1, b'g' as i64),
            (12, 0, 33),
            (13, 0, b'h' as i64),
        ];
        let plan = SequencePlan::new(&rows, 40);
        assert_eq!(plan.numbers, [(7, 41), (9, 42), (12, 43), (13, 44)]);
        // The sequence counts the setting event; db 0's stream does not.
        assert_eq!(plan.streams, [(-1, 4, 44), (0, 2, 44), (1, 1, 42)]);
    }

    #[test]
    fn a_trim_counts_out_per_stream() {
        let rows = [
            (1, 10, 0, b'$' as i64),
            (2, 10, 0, 33),
            (3, 11, 1, b'g' as i64),
            (4, 12, 0, b'g' as i64),
        ];
        assert_eq!(
            trim_plan(&rows),
            [
                (0, 2, StreamId { ms: 12, seq: 4 }),
                (1, 1, StreamId { ms: 11, seq: 3 })
            ]
        );
    }
}
