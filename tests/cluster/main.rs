//! Several instances, one database: instances on one MariaDB, with NATS,
//! database faults, durability across restarts and crashes, MULTI/EXEC
//! isolation across instances, and TLS on the
//! links to MariaDB and NATS.

#[path = "../common/mod.rs"]
mod common;

mod db_faults;
mod durability;
mod isolation;
mod multi_instance;
mod nats;
mod scripts;
mod streams;
mod tls_links;
mod tracking;
