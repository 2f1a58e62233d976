//! The one entry of a request on the command side. The client frames a
//! request and hands it here with its session and its [`Wire`]; this file
//! decides everything else, once: the table's check, AUTH, MULTI
//! queueing, subscribed mode, CLIENT PAUSE, grouping a pipeline's plain
//! writes (one group commit) and reads (one read session), MONITOR, the
//! per-command metrics, CLIENT REPLY and the order of a reply among pub/sub
//! messages. Data commands go to the write lanes or run alone, blocking
//! ones wait ([`blocking`]), EXEC runs its block ([`exec`]), the rest run
//! against the session ([`direct`]).

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;

use crate::clock::now_us;
use crate::cmd::errors::{self, CmdError};
use crate::cmd::key_args::key_args;
use crate::cmd::run::lanes::{self, Batcher};
use crate::cmd::run::monitor::{monitor_line, redacted};
use crate::cmd::run::txn::Job;
use crate::cmd::run::{blocking, direct, exec};
use crate::cmd::session::Session;
use crate::cmd::spec::{CommandSpec, Handler};
use crate::cmd::table;
use crate::reply::Reply;
use crate::store::Access;

/// What the request path needs of the connection it serves.
pub trait Wire {
    /// Encodes a reply for the client.
    fn send(&mut self, reply: &Reply, resp3: bool);
    /// Encodes the pub/sub messages already waiting for the client.
    fn send_deliveries(&mut self, session: &Session);
    /// Writes what was encoded.
    fn flush(&mut self) -> impl Future<Output = std::io::Result<()>> + Send;
    /// Completes when the peer has closed the connection.
    fn closed(&mut self) -> impl Future<Output = ()> + Send;
}

/// Whether the connection goes on after a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Go,
    /// Killed, shut down or gone while the request waited: close now.
    Close,
}

/// What happens to a request that passed the table's check.
enum Verdict {
    /// Answered at once without running (NOAUTH, subscribed mode).
    Refused(Reply),
    /// Queued in the MULTI block.
    Queued,
    Runs,
}

/// One connection's requests in flight: the pipeline's group waiting to
/// run together.
pub struct Requests {
    batcher: Batcher,
    /// Consecutive plain writes (or plain reads) of a pipeline.
    group: Vec<Job>,
}

impl Requests {
    pub fn new(batcher: Batcher) -> Requests {
        Requests {
            batcher,
            group: Vec::new(),
        }
    }

    /// Handles one framed request: answers it through `wire`, or keeps it
    /// in the group (answered by [`Requests::finish`] or the next request
    /// that cannot join it).
    pub async fn handle(
        &mut self,
        session: &mut Session,
        wire: &mut impl Wire,
        args: Vec<Bytes>,
    ) -> std::io::Result<Next> {
        session
            .instance
            .metrics
            .commands_processed
            .fetch_add(1, Ordering::Relaxed);
        let spec = match table::check(&args) {
            Ok(spec) => spec,
            Err(text) => {
                self.finish(session, wire).await;
                let reply = refuse_unchecked(session, &args, text);
                if session.is_subscribed() {
                    wire.send_deliveries(session);
                }
                if session.reply_mode.sends() {
                    wire.send(&reply, session.resp3);
                }
                return Ok(Next::Go);
            }
        };
        let pause_writes = holds_on_pause_write(session, spec);
        if session.instance.pause.holds(pause_writes) {
            // CLIENT PAUSE: what came before is answered; this command (and
            // everything after it) waits.
            self.finish(session, wire).await;
            wire.flush().await?;
            let instance = &session.instance;
            let mut shutdown = instance.shutdown.clone();
            tokio::select! {
                _ = instance.pause.wait(pause_writes) => {}
                _ = session.kill.notified() => return Ok(Next::Close),
                _ = shutdown.changed() => return Ok(Next::Close),
            }
        }
        let verdict = verdict(session, spec, &args);
        // MONITOR shows the commands that run (not those refused or
        // queued), credentials redacted.
        let monitored = (matches!(verdict, Verdict::Runs)
            && session.instance.monitors.is_active()
            && !spec.is_admin(&args))
        .then(|| redacted(&args));
        // CLIENT TRACKING: a read's keys are tracked before it reads.
        if matches!(verdict, Verdict::Runs) && session.tracking && spec.tracks_reads() {
            session.track_reads(key_args(spec, &args));
        }
        if matches!(verdict, Verdict::Runs) && joins_group(session, spec) {
            // Reads and writes never share a group: the group so far is
            // answered first, so order holds.
            if self
                .group
                .first()
                .is_some_and(|j| j.spec.writes() != spec.writes())
            {
                self.finish(session, wire).await;
            }
            session.touch_info(spec.full_name(&args), &args);
            if let Some(shown) = &monitored {
                feed_monitors(session, shown);
            }
            session.caching_done(false);
            self.group.push(Job::new(session, spec, args));
            return Ok(Next::Go);
        }
        self.finish(session, wire).await;
        // EXEC shows the commands of its block as they run, then itself.
        let exec_block: Option<Vec<Vec<Bytes>>> = match (&monitored, spec.handler) {
            (Some(_), Handler::Exec) => session.multi.as_ref().map(|m| {
                exec::rows(&m.queue)
                    .filter(|(spec, args)| !spec.is_admin(args))
                    .map(|(_, args)| redacted(args))
                    .collect()
            }),
            _ => None,
        };
        let started = Instant::now();
        session.touch_info(spec.full_name(&args), &args);
        let reply = match verdict {
            Verdict::Refused(reply) => reply,
            Verdict::Queued => {
                session.queue_command(args);
                Reply::Status("QUEUED")
            }
            Verdict::Runs if spec.has_flag("blocking") => {
                // A command that may wait (BLPOP, XREAD BLOCK) ends with
                // its client: nothing else is read until it answers.
                let run = self.run(session, spec, args);
                tokio::select! {
                    reply = run => reply,
                    _ = wire.closed() => return Ok(Next::Close),
                }
            }
            Verdict::Runs => self.run(session, spec, args).await,
        };
        session.command_done();
        session.caching_done(spec.name == "client");
        let micros = started.elapsed().as_micros() as u64;
        let metrics = &session.instance.metrics;
        metrics.record(spec.name, micros, reply.error_text());
        if let Some(shown) = &monitored {
            let ran = !matches!(reply, Reply::NilArray | Reply::Error(_));
            for args in exec_block.iter().flatten().filter(|_| ran) {
                feed_monitors(session, args);
            }
            feed_monitors(session, shown);
        }
        // CLIENT REPLY: the mode after the command decides.
        let sends = session.reply_mode.sends();
        session.reply_mode = session.reply_mode.next();
        let first = spec.confirms_first();
        if first && sends {
            wire.send(&reply, session.resp3);
        }
        // Messages this command published to this very connection go
        // first, as Redis writes them first.
        if session.is_subscribed() {
            wire.send_deliveries(session);
        }
        if !first && sends {
            wire.send(&reply, session.resp3);
        }
        Ok(Next::Go)
    }

    /// Runs one command that passed every check, alone.
    async fn run(
        &self,
        session: &mut Session,
        spec: &'static CommandSpec,
        args: Vec<Bytes>,
    ) -> Reply {
        if session.instance.config.panic_on_command.as_deref() == Some(spec.name) {
            panic!("panic_on_command {}", spec.name);
        }
        match spec.handler {
            Handler::Blocking(_, on) if !session.deny_blocking => {
                blocking::run(session, &self.batcher, spec, args, on).await
            }
            Handler::Data(_) | Handler::Blocking(..) | Handler::Script(_) => self
                .batcher
                .run(session, spec, args)
                .await
                .unwrap_or_else(CmdError::into_reply),
            Handler::Exec => exec::exec(session)
                .await
                .unwrap_or_else(CmdError::into_reply),
            _ => direct::run(session, spec, &args).await,
        }
    }

    /// Runs the group (the pipeline's writes, or its reads) and encodes
    /// their replies.
    pub async fn finish(&mut self, session: &mut Session, wire: &mut impl Wire) {
        let Some(first) = self.group.first() else {
            return;
        };
        let instance = session.instance.clone();
        let started = Instant::now();
        let names: Vec<&'static str> = self.group.iter().map(|job| job.spec.name).collect();
        let answers = if first.spec.writes() {
            let group = std::mem::take(&mut self.group);
            self.batcher.write_many(&instance, group).await
        } else {
            let answers = lanes::read_many(&instance, &self.group).await;
            self.group.clear();
            answers
        };
        // Each command of the group waited for all of it.
        let micros = started.elapsed().as_micros() as u64;
        for (answer, name) in answers.into_iter().zip(names) {
            let reply = answer.unwrap_or_else(CmdError::into_reply);
            instance.metrics.record(name, micros, reply.error_text());
            if session.reply_mode.sends() {
                wire.send(&reply, session.resp3);
            }
            session.reply_mode = session.reply_mode.next();
        }
        session.command_done();
    }
}

/// What happens to a request that passed the table's check, decided once.
fn verdict(session: &Session, spec: &CommandSpec, args: &[Bytes]) -> Verdict {
    if session.needs_auth() && !spec.has_flag("no-auth") {
        return Verdict::Refused(Reply::error(errors::NOAUTH));
    }
    if session.multi.is_some() && !spec.skips_queue() {
        return Verdict::Queued;
    }
    if !session.resp3 && session.is_subscribed() && !spec.allowed_subscribed() {
        let text = errors::not_while_subscribed(&spec.full_name(args));
        return Verdict::Refused(Reply::error(text));
    }
    Verdict::Runs
}

/// A request the table refused (unknown command, wrong arity): its error.
/// Inside MULTI it dooms the block; a malformed EXEC aborts it at once.
fn refuse_unchecked(session: &mut Session, args: &[Bytes], text: Bytes) -> Reply {
    if args[0].eq_ignore_ascii_case(b"exec") {
        session.multi = None;
        session.watched.clear();
        session.show_multi(false);
        let reason = text.strip_prefix(b"ERR ").unwrap_or(&text);
        let mut abort = errors::EXECABORT_BECAUSE.as_bytes().to_vec();
        abort.extend_from_slice(reason);
        return Reply::error(abort);
    }
    if let Some(multi) = &mut session.multi {
        multi.dirty = true;
    }
    Reply::Error(text)
}

/// Whether a command that runs may join a pipeline's group: a data
/// command that never waits, a write (group commit) or a plain read (one
/// read session), from a client outside pub/sub.
fn joins_group(session: &Session, spec: &CommandSpec) -> bool {
    spec.runs_in_txn()
        && !matches!(spec.handler, Handler::Blocking(..))
        && (spec.writes() || spec.access() == Access::Read)
        && !session.is_subscribed()
        // A command set to panic (a test's) takes the one-command path.
        && session.instance.config.panic_on_command.as_deref() != Some(spec.name)
}

/// Whether CLIENT PAUSE WRITE holds this command: writes, PUBLISH, scripts
/// but EVAL_RO and FCALL_RO, and an EXEC whose block writes (Redis's "may
/// replicate" commands).
fn holds_on_pause_write(session: &Session, spec: &CommandSpec) -> bool {
    spec.writes()
        || spec.may_replicate()
        || (matches!(spec.handler, Handler::Exec)
            && session
                .multi
                .as_ref()
                .is_some_and(|m| exec::rows(&m.queue).any(|(s, _)| s.writes())))
}

/// Sends a command's MONITOR line (its arguments as shown) to the
/// monitors, with the client's database as it is now.
fn feed_monitors(session: &Session, args: &[Bytes]) {
    let line = monitor_line(now_us(), session.db, Some(session.addr), args);
    session.instance.monitors.feed(line);
}
