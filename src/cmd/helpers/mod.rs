//! What several command families share: number parsing and formatting,
//! scores and their ranges, the members of lists, sets and sorted sets,
//! the event log read as streams, CONFIG's parameters, and the RDB
//! serialization of DUMP and RESTORE (with its LZF compression).

pub mod event_view;
pub mod long_double;
pub mod lzf;
pub mod members;
pub mod parameters;
pub mod rdb;
pub mod scan;
pub mod scored_members;
pub mod scores;
pub mod streams;
