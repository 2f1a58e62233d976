//! What one instance keeps for itself, shared by its connections and by no
//! other instance: when its clients last touched each key (OBJECT
//! IDLETIME), a CLIENT PAUSE in force, and the MONITOR feeds.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, watch};

use crate::store::Db;

/// Keys remembered at most; past it the older half is forgotten.
const ACCESS_CAP: usize = 100_000;

/// When this instance's clients last accessed each key. A key it never saw
/// (or forgot) counts as idle since [`AccessTimes::floor`]: the start, or
/// the last time older entries were dropped.
pub struct AccessTimes {
    inner: Mutex<AccessInner>,
}

struct AccessInner {
    last: HashMap<(Db, Bytes), Instant>,
    floor: Instant,
}

impl Default for AccessTimes {
    fn default() -> Self {
        AccessTimes {
            inner: Mutex::new(AccessInner {
                last: HashMap::new(),
                floor: Instant::now(),
            }),
        }
    }
}

impl AccessTimes {
    /// Records an access to each key, now.
    pub fn touch<'a>(&self, db: Db, keys: impl IntoIterator<Item = &'a Bytes>) {
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap();
        for key in keys {
            inner.last.insert((db, key.clone()), now);
        }
        if inner.last.len() > ACCESS_CAP {
            // Keep the newer half; what goes counts from now on.
            let mut times: Vec<Instant> = inner.last.values().copied().collect();
            let (_, &mut cut, _) = times.select_nth_unstable(ACCESS_CAP / 2);
            inner.last.retain(|_, t| *t >= cut);
            inner.floor = cut;
        }
    }

    /// How long the key has been idle, in whole seconds.
    pub fn idle_seconds(&self, db: Db, key: &[u8]) -> u64 {
        let inner = self.inner.lock().unwrap();
        let since = inner
            .last
            .get(&(db, Bytes::copy_from_slice(key)))
            .copied()
            .unwrap_or(inner.floor);
        since.elapsed().as_secs()
    }

    /// Drops a key's access time (a key swapped away by SWAPDB).
    pub fn forget(&self, db: Db, key: &[u8]) {
        let mut inner = self.inner.lock().unwrap();
        inner.last.remove(&(db, Bytes::copy_from_slice(key)));
    }
}

/// A CLIENT PAUSE in force: until when, and whether every command waits
/// (ALL) or only those that write (WRITE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PauseState {
    pub until: Instant,
    pub all: bool,
}

/// CLIENT PAUSE / UNPAUSE on this instance.
pub struct Pause {
    state: watch::Sender<Option<PauseState>>,
}

impl Default for Pause {
    fn default() -> Self {
        Pause {
            state: watch::Sender::new(None),
        }
    }
}

impl Pause {
    /// Pauses for `duration`; as in Redis, a pause never gets shorter or
    /// narrower while another is in force.
    pub fn pause(&self, duration: Duration, all: bool) {
        let until = Instant::now() + duration;
        self.state.send_modify(|state| {
            *state = Some(match *state {
                Some(old) if old.until > Instant::now() => PauseState {
                    until: old.until.max(until),
                    all: old.all || all,
                },
                _ => PauseState { until, all },
            });
        });
    }

    pub fn unpause(&self) {
        self.state.send_replace(None);
    }

    /// Waits until a command that writes (`writes`) or not may run.
    pub async fn wait(&self, writes: bool) {
        let mut rx = self.state.subscribe();
        loop {
            let state = *rx.borrow_and_update();
            let Some(p) = state else { return };
            if p.until <= Instant::now() || !(p.all || writes) {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(p.until.into()) => {}
                changed = rx.changed() => if changed.is_err() { return },
            }
        }
    }

    /// True when a command that writes (`writes`) or not would wait now.
    pub fn holds(&self, writes: bool) -> bool {
        match *self.state.borrow() {
            Some(p) => p.until > Instant::now() && (p.all || writes),
            None => false,
        }
    }
}

/// Lines a monitor may have waiting before it is disconnected (Redis
/// closes a monitor over its output buffer limit).
const MONITOR_BACKLOG: usize = 100_000;

/// The clients in MONITOR mode: each gets every command this instance
/// runs, as one status line.
#[derive(Default)]
pub struct Monitors {
    feeds: Mutex<Vec<Feed>>,
    /// Whether any monitor is connected: the fast path checks only this.
    active: std::sync::atomic::AtomicBool,
}

struct Feed {
    client: u64,
    tx: mpsc::Sender<Bytes>,
    kill: std::sync::Arc<tokio::sync::Notify>,
}

impl Monitors {
    /// Registers `client` as a monitor; its lines arrive on the receiver.
    pub fn add(
        &self,
        client: u64,
        kill: std::sync::Arc<tokio::sync::Notify>,
    ) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(MONITOR_BACKLOG);
        let mut feeds = self.feeds.lock().unwrap();
        feeds.push(Feed { client, tx, kill });
        self.active
            .store(true, std::sync::atomic::Ordering::Relaxed);
        rx
    }

    pub fn remove(&self, client: u64) {
        let mut feeds = self.feeds.lock().unwrap();
        feeds.retain(|f| f.client != client);
        self.active
            .store(!feeds.is_empty(), std::sync::atomic::Ordering::Relaxed);
    }

    pub fn is_active(&self) -> bool {
        self.active.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends one command's line (see [`monitor_line`]) to every monitor;
    /// one too far behind is disconnected.
    pub fn feed(&self, line: Bytes) {
        let feeds = self.feeds.lock().unwrap();
        for f in feeds.iter() {
            if let Err(mpsc::error::TrySendError::Full(_)) = f.tx.try_send(line.clone()) {
                f.kill.notify_one();
            }
        }
    }
}

/// Admin commands, which MONITOR never shows (Redis's CMD_ADMIN).
pub fn is_admin(spec: &crate::cmd::CommandSpec, args: &[Bytes]) -> bool {
    let sub = args.get(1).map(|a| a.to_ascii_lowercase());
    spec.has_flag("admin")
        || (spec.name == "config" && sub.as_deref() != Some(b"help"))
        || (spec.name == "client"
            && matches!(
                sub.as_deref(),
                Some(b"list" | b"kill" | b"pause" | b"unpause" | b"no-evict" | b"unblock")
            ))
}

/// A command as MONITOR shows it: `+<sec>.<usec> [<db> <addr>] "arg" ...`,
/// each argument escaped as Redis's sdscatrepr does.
pub fn monitor_line(now_us: i64, db: Db, addr: SocketAddr, args: &[Bytes]) -> Bytes {
    let mut out = BytesMut::with_capacity(64 + args.iter().map(Bytes::len).sum::<usize>());
    out.extend_from_slice(
        format!(
            "+{}.{:06} [{} {}]",
            now_us / 1_000_000,
            now_us % 1_000_000,
            db,
            addr
        )
        .as_bytes(),
    );
    for arg in args {
        out.extend_from_slice(b" \"");
        for &b in arg.iter() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'"' => out.extend_from_slice(b"\\\""),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x07 => out.extend_from_slice(b"\\a"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x20..=0x7e => out.extend_from_slice(&[b]),
                other => out.extend_from_slice(format!("\\x{other:02x}").as_bytes()),
            }
        }
        out.extend_from_slice(b"\"");
    }
    out.extend_from_slice(b"\r\n");
    out.freeze()
}

/// The arguments MONITOR shows of a command: AUTH's and HELLO AUTH's
/// credentials are
/// `(redacted)`, as Redis does (CONFIG is an admin command: never shown).
pub fn redacted(args: &[Bytes]) -> Vec<Bytes> {
    let hidden = Bytes::from_static(b"(redacted)");
    let mut shown = args.to_vec();
    let name = args[0].to_ascii_lowercase();
    if name == b"auth" {
        for a in shown.iter_mut().skip(1) {
            *a = hidden.clone();
        }
    } else if name == b"hello" {
        let mut i = 2;
        while i < shown.len() {
            if shown[i].eq_ignore_ascii_case(b"auth") && i + 2 < shown.len() {
                shown[i + 1] = hidden.clone();
                shown[i + 2] = hidden.clone();
                i += 3;
            } else if shown[i].eq_ignore_ascii_case(b"setname") {
                i += 2;
            } else {
                i += 1;
            }
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_lines_escape_like_sdscatrepr() {
        let addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let args = [
            Bytes::from_static(b"set"),
            Bytes::from_static(b"k\"\\"),
            Bytes::from_static(b"\x00\xff\r\n\t\x07\x08 ~"),
        ];
        assert_eq!(
            monitor_line(1_700_000_000_000_042, 9, addr, &args),
            Bytes::from_static(
                b"+1700000000.000042 [9 127.0.0.1:5000] \"set\" \"k\\\"\\\\\" \"\\x00\\xff\\r\\n\\t\\a\\b ~\"\r\n"
            )
        );
    }

    #[test]
    fn credentials_are_redacted() {
        let args = |s: &str| -> Vec<Bytes> {
            s.split(' ')
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect()
        };
        assert_eq!(redacted(&args("AUTH pw")), args("AUTH (redacted)"));
        assert_eq!(
            redacted(&args("HELLO 3 SETNAME n AUTH u p")),
            args("HELLO 3 SETNAME n AUTH (redacted) (redacted)")
        );
    }
}
