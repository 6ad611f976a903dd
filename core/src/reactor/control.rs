//! The control socket, served by the reactor: accepts clients on a Unix
//! socket (mode 0600, same uid only), reads newline-delimited JSON
//! requests, answers from the reactor's state, and streams events to
//! `tail` clients from an event history and then live.
//!
//! Every client has a bounded outbox; one that stops reading is
//! disconnected when it fills (`client.dropped`), and nobody else waits.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Token};
use serde_json::{Value, json};

use super::search;
use super::{Reactor, Shutdown};
use crate::control::{self, Command, Request, Tail};
use crate::events::Event;
use crate::files;
use crate::supervise::child::{ChildState, Refusal, StopKind};

/// Token of the listening socket.
pub const LISTENER: Token = Token(2);
/// Client tokens are `CLIENT_BASE + slot`.
pub const CLIENT_BASE: usize = 1 << 32;
/// Bytes of encoded events kept for `tail --since` / `--last`.
pub(super) const HISTORY_BYTES: usize = 8 << 20;
/// Findings kept for `errors` / `urls`.
const MAX_FINDINGS: usize = 1000;
/// Connections served at once.
const MAX_CLIENTS: usize = 1024;
/// Connections beyond [`MAX_CLIENTS`] kept for control commands (`ps`,
/// `status`, `start`, `stop`, `restart`, `down`), so `brum down` works
/// whatever else is connected.
const RESERVED_CLIENTS: usize = 16;
/// Time a `logs` search runs per turn; it goes on in the next turn.
const SEARCH_SLICE_TIME: std::time::Duration = std::time::Duration::from_millis(10);
/// Time spent on expensive requests per reactor turn before the rest wait
/// for the next turn (cheap ones are served first, whatever the time).
const REQUESTS_BUDGET: std::time::Duration = std::time::Duration::from_millis(20);
/// A client whose answers wait this much unsent is not served further
/// requests until it reads.
const OUTBOX_PAUSE: usize = 1 << 20;
/// Bytes of request text held per client (a client that pipelines more
/// waits until brum has worked through them).
const MAX_INBOX: usize = 2 * control::MAX_REQUEST;
/// A connection that has not asked anything for this long is closed
/// (tails excepted).
const IDLE_AFTER: std::time::Duration = std::time::Duration::from_secs(10);
/// ... and a connection on a reserved slot after this long.
const RESERVED_IDLE_AFTER: std::time::Duration = std::time::Duration::from_secs(2);
/// A client that has answers waiting and takes none of them for this long
/// is disconnected (`client.dropped`).
const UNREAD_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// Why the socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(
        "another brum is already running here (it answers on {0}); stop it with `brum down`, or give this one its own --socket"
    )]
    Running(PathBuf),
    #[error("cannot create the control socket {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("the socket path {0} is too long for a Unix socket (108 bytes at most); pass a shorter --socket")]
    TooLong(PathBuf),
    #[error(transparent)]
    File(#[from] files::FileError),
}

/// Binds the control socket at `path`: creates its directory, replaces a
/// stale socket left by a brum that died, refuses when a live one answers,
/// and makes the socket readable and writable by its owner only.
pub fn bind(path: &Path) -> Result<UnixListener, BindError> {
    let io_err = |source| BindError::Io { path: path.to_path_buf(), source };
    if path.as_os_str().len() >= 108 {
        return Err(BindError::TooLong(path.to_path_buf()));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        files::private_dir(dir)?;
    }
    if files::socket_path_state(path)? == files::SocketPath::Socket {
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err(BindError::Running(path.to_path_buf())),
            // nobody listens: a stale socket from a brum that died
            Err(_) => std::fs::remove_file(path).map_err(io_err)?,
        }
    }
    // SAFETY: umask only affects this process's file creation mode.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: restores the previous mask.
    unsafe { libc::umask(old) };
    bound.map_err(io_err)
}

/// The uid of the process at the other end of a Unix socket (SO_PEERCRED).
fn peer_uid(stream: &impl std::os::fd::AsFd) -> Option<u32> {
    rustix::net::sockopt::socket_peercred(stream).ok().map(|c| c.uid.as_raw())
}

struct Client {
    stream: UnixStream,
    inbox: Vec<u8>,
    outbox: Vec<u8>,
    sent: usize,
    tail: Option<Tail>,
    /// Close once the outbox is written (answer sent, or tail without
    /// follow).
    close_after_flush: bool,
    /// Last time the client took bytes (a full outbox with no progress
    /// for [`STUCK_AFTER`] means it stopped reading).
    last_progress: Instant,
    /// Events not queued because the outbox was full, not yet reported.
    missed: u64,
    missed_last_seq: u64,
    /// When the client last asked something (or connected).
    last_request: Instant,
    /// On a reserved slot: control commands only, short idle time.
    reserved: bool,
    /// The client has sent all it will (EOF on its side).
    eof: bool,
    /// More bytes may wait in the socket: reading stopped at MAX_INBOX.
    read_paused: bool,
    /// A parsed expensive request waiting for a turn with time left.
    next: Option<Result<Request, control::RequestError>>,
    /// A `logs` search under way (answered when it is done).
    search: Option<search::Search>,
    /// A tail's place in the history: the position (events pushed before
    /// it) of the next event to look at.
    cursor: u64,
    /// A tail without follow ends at this position.
    until: Option<u64>,
}

impl Client {
    fn unsent(&self) -> usize {
        self.outbox.len() - self.sent
    }

    /// The next complete request line, taken out of the inbox.
    fn take_line(&mut self) -> Option<Vec<u8>> {
        loop {
            let nl = memchr::memchr(b'\n', &self.inbox)?;
            let mut line: Vec<u8> = self.inbox.drain(..=nl).collect();
            line.pop();
            if !line.iter().all(u8::is_ascii_whitespace) {
                return Some(line);
            }
        }
    }

    fn has_request(&self) -> bool {
        self.search.is_some() || self.next.is_some() || memchr::memchr(b'\n', &self.inbox).is_some()
    }
}

/// Queues the tail's next events from the shared history, up to
/// [`TAIL_WINDOW`] unsent; a tail without follow ends when its history is
/// out.
fn fill_tail(c: &mut Client, ring: &crate::store::Ring) {
    let Some(t) = c.tail.as_ref() else { return };
    let pushed = ring.stats().pushed_lines;
    let base = pushed - ring.len() as u64;
    if c.cursor < base {
        // pushed out of the history before this client took them
        c.missed += base - c.cursor;
        c.missed_last_seq = c.missed_last_seq.max(ring.first_seq().unwrap_or(0).saturating_sub(1));
        c.cursor = base;
    }
    let end = c.until.map_or(pushed, |u| u.min(pushed));
    if c.cursor < end && c.unsent() < TAIL_WINDOW {
        if c.unsent() == 0 {
            c.last_progress = Instant::now();
        }
        let since = t.since.unwrap_or(0);
        let (from, to) = ((c.cursor - base) as usize, (end - base) as usize);
        let Client { outbox, sent, cursor, .. } = c;
        ring.for_each_range(from, to, |rec, line| {
            *cursor += 1;
            if rec.seq > since && control::event_meta(line).is_some_and(|m| t.wants(&m)) {
                outbox.extend_from_slice(line);
            }
            outbox.len() - *sent < TAIL_WINDOW
        });
    }
    if c.until.is_some_and(|u| c.cursor >= u) {
        c.tail = None;
        c.close_after_flush = true;
    }
}

/// Requests that may take long (a search, a history replay, findings
/// decoded): served after the cheap ones of the turn, within its budget.
fn expensive(cmd: &Command) -> bool {
    matches!(cmd, Command::Logs(_) | Command::Tail(_) | Command::Errors(_) | Command::Urls(_))
}

/// Bytes of events queued for one tail client at a time; the rest waits in
/// the shared history, so a tail that does not read costs this much.
const TAIL_WINDOW: usize = 256 << 10;

/// A client whose outbox is full and that has taken nothing for this long
/// has stopped reading and is disconnected; one that is only slow gets
/// `log.dropped` markers instead.
const STUCK_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// The socket, its clients, and what they can ask about.
pub struct ControlServer {
    listener: UnixListener,
    pub path: PathBuf,
    clients: Vec<Option<Client>>,
    /// The history's count of events too big for it when tail clients
    /// were last served (they are missed by every tail).
    pumped: u64,
    errors: VecDeque<Vec<u8>>,
    urls: VecDeque<Vec<u8>>,
    started: Instant,
    /// Turns of request serving (whose client goes first rotates).
    turn: usize,
    sweep_armed: bool,
}

impl ControlServer {
    pub fn new(listener: UnixListener, path: PathBuf) -> Self {
        ControlServer {
            listener,
            path,
            clients: Vec::new(),
            pumped: 0,
            errors: VecDeque::new(),
            urls: VecDeque::new(),
            started: Instant::now(),
            turn: 0,
            sweep_armed: false,
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

enum Io {
    Open,
    Closed,
}

impl Reactor {
    /// Accepts every pending connection.
    pub(super) fn accept_clients(&mut self) {
        loop {
            let Some(ctl) = self.control.as_mut() else { return };
            let (mut stream, _) = match ctl.listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            if peer_uid(&stream) != Some(rustix::process::geteuid().as_raw()) {
                let _ = stream.write_all(&control::error_line(&Value::Null, "refused: another user's process"));
                continue;
            }
            let used = ctl.clients.iter().filter(|c| c.as_ref().is_some_and(|c| !c.reserved)).count();
            let reserved = used >= MAX_CLIENTS;
            let in_use = ctl.clients.iter().flatten().count();
            let slot = match ctl.clients.iter().position(Option::is_none) {
                Some(s) if in_use < MAX_CLIENTS + RESERVED_CLIENTS => s,
                None if ctl.clients.len() < MAX_CLIENTS + RESERVED_CLIENTS => {
                    ctl.clients.push(None);
                    ctl.clients.len() - 1
                }
                _ => {
                    let _ = stream.write_all(&control::error_line(&Value::Null, "too many clients"));
                    continue;
                }
            };
            let token = Token(CLIENT_BASE + slot);
            if self.poll.registry().register(&mut stream, token, Interest::READABLE | Interest::WRITABLE).is_err() {
                continue;
            }
            ctl.clients[slot] = Some(Client {
                stream,
                inbox: Vec::new(),
                outbox: Vec::new(),
                sent: 0,
                tail: None,
                close_after_flush: false,
                last_progress: Instant::now(),
                missed: 0,
                missed_last_seq: 0,
                last_request: Instant::now(),
                reserved,
                eof: false,
                read_paused: false,
                next: None,
                search: None,
                cursor: 0,
                until: None,
            });
            self.arm_client_sweep();
            // data may already be waiting
            self.client_ready(slot);
        }
    }

    /// A client socket is readable or writable.
    pub(super) fn client_ready(&mut self, slot: usize) {
        if let Io::Closed = self.client_read(slot) {
            self.drop_client(slot, None);
            return;
        }
        self.client_write(slot);
    }

    /// Takes what the client sent into its inbox (at most [`MAX_INBOX`]
    /// waiting); requests are served by [`Reactor::serve_requests`].
    fn client_read(&mut self, slot: usize) -> Io {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let Some(c) = self.client_mut(slot) else { return Io::Closed };
            if c.eof {
                return Io::Open;
            }
            if c.inbox.len() >= MAX_INBOX {
                if memchr::memchr(b'\n', &c.inbox).is_none() {
                    let msg = format!("request too large (more than {} bytes without a newline)", control::MAX_REQUEST);
                    c.outbox.extend_from_slice(&control::error_line(&Value::Null, &msg));
                    c.inbox = Vec::new();
                    c.eof = true;
                    c.close_after_flush = true;
                    return Io::Open;
                }
                // its requests wait: read on once they are served
                c.read_paused = true;
                return Io::Open;
            }
            let room = (MAX_INBOX - c.inbox.len()).min(buf.len());
            let n = match c.stream.read(&mut buf[..room]) {
                Ok(0) => {
                    // the client finished sending; its requests are still
                    // served and its answers sent before the connection ends
                    c.eof = true;
                    c.close_after_flush = true;
                    if memchr::memchr(b'\n', &c.inbox).is_none() && !c.inbox.iter().all(u8::is_ascii_whitespace) {
                        c.inbox.clear();
                        let msg =
                            "the request ended without a newline (each request is one line of JSON ending in \\n)";
                        c.outbox.extend_from_slice(&control::error_line(&Value::Null, msg));
                    }
                    return Io::Open;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Io::Open,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Io::Closed,
            };
            c.inbox.extend_from_slice(&buf[..n]);
            if c.inbox.len() > control::MAX_REQUEST && memchr::memchr(b'\n', &c.inbox).is_none() {
                let msg = format!("request too large (more than {} bytes without a newline)", control::MAX_REQUEST);
                c.outbox.extend_from_slice(&control::error_line(&Value::Null, &msg));
                c.inbox = Vec::new();
                c.eof = true;
                c.close_after_flush = true;
                return Io::Open;
            }
        }
    }

    /// Serves at most one request per client this turn: first the cheap
    /// ones of every client, then the expensive ones while the turn's
    /// request time lasts. A client whose answers pile up unread waits.
    pub(super) fn serve_requests(&mut self) {
        let Some(ctl) = self.control.as_mut() else { return };
        let n = ctl.clients.len();
        if n == 0 {
            return;
        }
        ctl.turn = ctl.turn.wrapping_add(1);
        let first = ctl.turn % n;
        let started = Instant::now();
        let mut served = vec![false; n];
        for cheap_pass in [true, false] {
            for k in 0..n {
                let slot = (first + k) % n;
                if served[slot] {
                    continue;
                }
                if !cheap_pass && started.elapsed() >= REQUESTS_BUDGET {
                    return;
                }
                let Some(c) = self.client_mut(slot) else { continue };
                if c.unsent() >= OUTBOX_PAUSE || !c.has_request() {
                    continue;
                }
                if c.search.is_some() {
                    // a search goes on in the expensive pass, in order
                    // with this client's requests (it answers first)
                    if !cheap_pass {
                        served[slot] = true;
                        self.advance_search(slot, SEARCH_SLICE_TIME);
                    }
                    continue;
                }
                let req = match c.next.take() {
                    Some(r) => r,
                    None => {
                        let Some(line) = c.take_line() else { continue };
                        control::parse(&line)
                    }
                };
                if cheap_pass && req.as_ref().is_ok_and(|r| expensive(&r.cmd)) {
                    c.next = Some(req);
                    continue;
                }
                served[slot] = true;
                c.last_request = Instant::now();
                let resume = c.read_paused && c.inbox.len() < MAX_INBOX;
                if resume {
                    c.read_paused = false;
                }
                self.handle_request(slot, req);
                if resume && let Io::Closed = self.client_read(slot) {
                    self.drop_client(slot, None);
                }
            }
        }
    }

    /// Runs client `slot`'s search for at most `budget`, and answers when
    /// it is done.
    fn advance_search(&mut self, slot: usize, budget: std::time::Duration) {
        let Some(mut search) = self.client_mut(slot).and_then(|c| c.search.take()) else { return };
        let p = &self.procs[search.process()];
        match search.advance(&p.capture.ring, p.capture.evicted_total, budget) {
            Some(answer) => {
                let line = control::ok_line(search.id(), answer);
                self.reply(slot, &line);
            }
            None => {
                if let Some(c) = self.client_mut(slot) {
                    c.search = Some(search);
                }
            }
        }
    }

    /// The history's position after its newest event.
    fn history_end(&self) -> u64 {
        self.em.output().history().map_or(0, |h| h.ring.stats().pushed_lines)
    }

    /// Whether some client has a request waiting for a turn.
    pub(super) fn requests_waiting(&self) -> bool {
        self.control
            .as_ref()
            .is_some_and(|ctl| ctl.clients.iter().flatten().any(|c| c.has_request() && c.unsent() < OUTBOX_PAUSE))
    }

    /// Closes connections that ask nothing, and drops clients that stopped
    /// taking their answers.
    pub(super) fn sweep_clients(&mut self) {
        let Some(ctl) = self.control.as_mut() else { return };
        ctl.sweep_armed = false;
        let mut idle = Vec::new();
        let mut unread = Vec::new();
        for (slot, c) in ctl.clients.iter().enumerate() {
            let Some(c) = c else { continue };
            if c.unsent() > 0 && c.tail.is_none() && c.last_progress.elapsed() >= UNREAD_AFTER {
                unread.push((slot, c.unsent()));
            } else if c.tail.is_none() && c.unsent() == 0 && !c.has_request() {
                let limit = if c.reserved { RESERVED_IDLE_AFTER } else { IDLE_AFTER };
                if c.last_request.elapsed() >= limit {
                    idle.push(slot);
                }
            }
        }
        for slot in idle {
            if let Some(c) = self.client_mut(slot) {
                let _ = c.stream.write_all(&control::error_line(&Value::Null, "closed: no request for too long"));
            }
            self.drop_client(slot, None);
        }
        for (slot, queued) in unread {
            self.drop_client(slot, Some(queued));
        }
        self.arm_client_sweep();
    }

    /// Arms the sweep while some client may need one (a tail that reads
    /// costs no wake-ups).
    fn arm_client_sweep(&mut self) {
        let Some(ctl) = self.control.as_mut() else { return };
        if ctl.sweep_armed || !ctl.clients.iter().flatten().any(|c| c.tail.is_none() || c.unsent() > 0) {
            return;
        }
        ctl.sweep_armed = true;
        self.timers.arm(Instant::now() + std::time::Duration::from_secs(1), super::TimerKind::ClientSweep);
    }

    fn client_mut(&mut self, slot: usize) -> Option<&mut Client> {
        self.control.as_mut()?.clients.get_mut(slot)?.as_mut()
    }

    fn client_write(&mut self, slot: usize) {
        let Some(ctl) = self.control.as_mut() else { return };
        let Some(c) = ctl.clients.get_mut(slot).and_then(Option::as_mut) else { return };
        let ring = self.em.output().history().map(|h| &h.ring);
        let mut broken = false;
        loop {
            if c.sent == c.outbox.len() {
                c.outbox.clear();
                c.sent = 0;
                // a tail takes its next events from the history as it reads
                match ring {
                    Some(ring) if c.tail.is_some() => fill_tail(c, ring),
                    _ => {}
                }
                if c.outbox.is_empty() {
                    break;
                }
            }
            match c.stream.write(&c.outbox[c.sent..]) {
                Ok(0) => break,
                Ok(n) => {
                    c.sent += n;
                    c.last_progress = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    broken = true;
                    break;
                }
            }
        }
        // a slow tail learns how much it missed, in its stream
        if c.missed > 0 && c.unsent() < TAIL_WINDOW {
            let marker = format!(
                "{{\"seq\":{},\"type\":\"log.dropped\",\"count\":{},\"reason\":\"client_slow\"}}\n",
                c.missed_last_seq, c.missed
            );
            c.outbox.extend_from_slice(marker.as_bytes());
            c.missed = 0;
        }
        let mut done = false;
        if c.sent == c.outbox.len() {
            c.outbox.clear();
            c.sent = 0;
            done = c.close_after_flush && c.tail.is_none() && !c.has_request();
        } else if c.sent > (256 << 10) {
            c.outbox.drain(..c.sent);
            c.sent = 0;
        }
        if broken || done {
            self.drop_client(slot, None);
        }
    }

    /// Disconnects a client; `slow` says it was dropped for not reading.
    fn drop_client(&mut self, slot: usize, slow: Option<usize>) {
        let Some(ctl) = self.control.as_mut() else { return };
        if let Some(mut c) = ctl.clients.get_mut(slot).and_then(Option::take) {
            let _ = self.poll.registry().deregister(&mut c.stream);
        }
        if let Some(queued) = slow {
            self.em.publish(&Event::ClientDropped { queued_bytes: queued as u64, reason: "outbox_full" });
        }
    }

    fn reply(&mut self, slot: usize, bytes: &[u8]) {
        if let Some(c) = self.client_mut(slot) {
            if c.unsent() == 0 {
                // the time to take it counts from now
                c.last_progress = Instant::now();
            }
            c.outbox.extend_from_slice(bytes);
        }
    }

    fn handle_request(&mut self, slot: usize, req: Result<Request, control::RequestError>) {
        let req = match req {
            Ok(r) => r,
            Err(e) => return self.reply(slot, &control::error_line(&e.id, &e.message)),
        };
        let Request { id, cmd } = req;
        if self.client_mut(slot).is_some_and(|c| c.reserved)
            && !matches!(
                cmd,
                Command::Hello
                    | Command::Ps
                    | Command::Start(_)
                    | Command::Stop(_)
                    | Command::Restart(_)
                    | Command::Shutdown
            )
        {
            let msg = "too many clients: only ps, status, start, stop, restart and down are served now";
            return self.reply(slot, &control::error_line(&id, msg));
        }
        let answer = match cmd {
            Command::Hello => Ok(self.hello()),
            Command::Ps => Ok(json!({ "processes": self.ps(), "plugins": self.plugin_usage() })),
            Command::Logs(l) => {
                let search = self.proc_index(&l.process).and_then(|i| search::Search::start(id.clone(), &l, i));
                match search {
                    Ok(search) => {
                        if let Some(c) = self.client_mut(slot) {
                            c.search = Some(search);
                        }
                        self.advance_search(slot, SEARCH_SLICE_TIME);
                        return;
                    }
                    Err(e) => Err(e),
                }
            }
            Command::Errors(f) => self.errors(&f),
            Command::Urls(f) => self.urls(&f),
            Command::Start(n) => self.proc_index(&n.process).and_then(|i| self.user_start(i)),
            Command::Stop(n) => self.proc_index(&n.process).and_then(|i| self.user_stop(i)),
            Command::Restart(n) => self.proc_index(&n.process).and_then(|i| self.user_restart(i)),
            Command::Shutdown => {
                if self.shutdown.is_none() {
                    self.begin_shutdown(Shutdown::Requested);
                }
                Ok(json!({ "stopping": true, "pid": std::process::id() }))
            }
            Command::Tail(t) => return self.start_tail(slot, &id, t),
        };
        let bytes = match answer {
            Ok(v) => control::ok_line(&id, v),
            Err(msg) => control::error_line(&id, &msg),
        };
        self.reply(slot, &bytes);
    }

    fn proc_index(&self, name: &str) -> Result<usize, String> {
        self.procs.iter().position(|p| p.spec.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.procs.iter().map(|p| p.spec.name.as_str()).collect();
            format!("unknown process \"{name}\" (defined: {})", names.join(", "))
        })
    }

    fn hello(&self) -> Value {
        let ctl = self.control.as_ref();
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "protocol": control::PROTOCOL_VERSION,
            "schema": crate::events::SCHEMA_VERSION,
            "pid": std::process::id(),
            "cwd": std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
            "socket": ctl.map(|c| c.path.display().to_string()),
            "uptime_ms": ctl.map_or(0, |c| c.started.elapsed().as_millis() as u64),
            "seq": self.em.seq(),
            "processes": self.procs.iter().map(|p| p.spec.name.clone()).collect::<Vec<_>>(),
            // the name column of readable output, as `brum run` pads it
            "width": self.selection.iter().map(|&i| self.procs[i].spec.name.chars().count()).max().unwrap_or(0).max(4),
        })
    }

    fn plugin_usage(&self) -> Vec<Value> {
        self.host.as_ref().map_or_else(Vec::new, |h| {
            h.usage()
                .iter()
                .map(|u| {
                    json!({
                        "name": u.name,
                        "state": u.state,
                        "calls": u.calls,
                        "busy_ms": (u.busy_ms * 10.0).round() / 10.0,
                        "failures": u.failures,
                    })
                })
                .collect()
        })
    }

    fn ps(&self) -> Vec<Value> {
        self.procs
            .iter()
            .map(|p| {
                let c = &p.child;
                let (open_errors, open_warnings) = self.book.open_counts(p.index);
                let (code, signal) = match c.last_end().map(|e| e.exit) {
                    Some(crate::supervise::Exit::Code(c)) => (Some(c), None),
                    Some(crate::supervise::Exit::Signal(s)) => (None, Some(crate::events::signal_name(s))),
                    None => (None, None),
                };
                let uptime = match c.state {
                    ChildState::Running { since, .. } | ChildState::Exiting { since, .. } => {
                        Some(since.elapsed().as_millis() as u64)
                    }
                    _ => None,
                };
                let (ready, ready_ms) = self.ready_label(p.index);
                json!({
                    "name": p.spec.name,
                    "state": c.label(),
                    "ready": ready,
                    "ready_ms": ready_ms,
                    "pid": c.pid(),
                    "uptime_ms": uptime,
                    "run": c.run,
                    "restarts": c.restarts,
                    "exit_code": code,
                    "signal": signal,
                    "errors": open_errors,
                    "warnings": open_warnings,
                    "errors_total": p.stats.errors,
                    "warnings_total": p.stats.warnings,
                    "urls": p.stats.urls,
                    "command": p.spec.display,
                })
            })
            .collect()
    }

    /// `errors`: the open errors (and warnings), with `all` the resolved
    /// ones still remembered too, each as its latest `error.detected` event
    /// plus `open` (and `resolved`: why).
    fn errors(&self, f: &control::Findings) -> Result<Value, String> {
        let only = match f.process.as_deref() {
            Some(name) => Some(self.proc_index(name)?),
            None => None,
        };
        let limit = f.limit.unwrap_or(50).min(MAX_FINDINGS);
        let as_json = |e: &crate::open_errors::Entry| -> Option<Value> {
            let mut v: Value = serde_json::from_slice(&e.json).ok()?;
            v["open"] = e.resolved.is_none().into();
            if let Some(r) = e.resolved {
                v["resolved"] = r.into();
            }
            Some(v)
        };
        let wanted = |e: &&crate::open_errors::Entry| only.is_none_or(|i| e.process == i);
        let mut items: Vec<(u64, Value)> =
            self.book.open().filter(wanted).filter_map(|e| Some((e.id, as_json(e)?))).collect();
        let open = items.len();
        if f.all.unwrap_or(false) {
            items.extend(self.book.resolved().filter(wanted).filter_map(|e| Some((e.id, as_json(e)?))));
            items.sort_by_key(|(id, _)| *id);
        }
        let total = items.len();
        let shown: Vec<Value> = items.into_iter().skip(total.saturating_sub(limit)).map(|(_, v)| v).collect();
        Ok(json!({ "errors": shown, "open": open, "total": total, "more": total.saturating_sub(limit) }))
    }

    /// `urls`: what the current run of each process announced, latest
    /// announcement of each URL.
    fn urls(&self, f: &control::Findings) -> Result<Value, String> {
        let only = match f.process.as_deref() {
            Some(name) => Some(self.proc_index(name)?),
            None => None,
        };
        let Some(ctl) = self.control.as_ref() else { return Ok(json!({})) };
        let limit = f.limit.unwrap_or(50).min(MAX_FINDINGS);
        let mut latest: Vec<Value> = Vec::new();
        for b in ctl.urls.iter().rev() {
            let Some(meta) = control::event_meta(b) else { continue };
            let Some(pi) = meta.process.and_then(|n| self.procs.iter().position(|p| p.spec.name == n)) else {
                continue;
            };
            if only.is_some_and(|i| i != pi) {
                continue;
            }
            let Ok(v) = serde_json::from_slice::<Value>(b) else { continue };
            let url = v["url"].as_str().unwrap_or_default().to_string();
            // only what the current run announced, once
            if !self.procs[pi].stats.urls.contains(&url)
                || latest.iter().any(|x| x["url"] == v["url"] && x["process"] == v["process"])
            {
                continue;
            }
            latest.push(v);
        }
        latest.reverse();
        let total = latest.len();
        let shown: Vec<Value> = latest.into_iter().skip(total.saturating_sub(limit)).collect();
        Ok(json!({ "urls": shown, "total": total, "more": total.saturating_sub(limit) }))
    }

    fn refusal(&self, i: usize, r: Refusal) -> String {
        let name = &self.procs[i].spec.name;
        match r {
            Refusal::AlreadyRunning => format!("{name} is already running"),
            Refusal::WaitingToRestart => format!("{name} is waiting to restart"),
            Refusal::NotRunning => format!("{name} is not running"),
        }
    }

    fn user_start(&mut self, i: usize) -> Result<Value, String> {
        if self.shutdown.is_some() {
            return Err("brum is shutting down".into());
        }
        self.procs[i].child.can_start().map_err(|r| self.refusal(i, r))?;
        self.procs[i].child.restarts = 0;
        self.spawn(i);
        let p = &self.procs[i];
        Ok(json!({ "process": p.spec.name, "started": true, "pid": p.child.pid(), "run": p.child.run }))
    }

    fn user_stop(&mut self, i: usize) -> Result<Value, String> {
        if matches!(self.procs[i].child.state, ChildState::Exiting { .. }) {
            return Err(self.refusal(i, Refusal::NotRunning));
        }
        self.stop(i, StopKind::Stop).map_err(|r| self.refusal(i, r))?;
        Ok(json!({ "process": self.procs[i].spec.name, "stopping": true }))
    }

    fn user_restart(&mut self, i: usize) -> Result<Value, String> {
        match self.procs[i].child.state {
            ChildState::Running { .. } => {
                self.stop(i, StopKind::Restart).map_err(|r| self.refusal(i, r))?;
                Ok(json!({ "process": self.procs[i].spec.name, "restarting": true }))
            }
            _ => self.user_start(i),
        }
    }

    fn start_tail(&mut self, slot: usize, id: &Value, t: Tail) {
        self.pump_control();
        let seq = self.em.seq();
        let Some(ctl) = self.control.as_mut() else { return };
        let Some(history) = self.em.output().history() else { return };
        let ring = &history.ring;
        let first = ring.first_seq();
        let missed = match (t.since, first) {
            (Some(s), Some(f)) if f > s + 1 => f - s - 1,
            _ => 0,
        };
        let ack = control::ok_line(
            id,
            json!({ "tail": true, "seq": seq, "history_from": first, "missed": missed, "follow": t.follow }),
        );
        let pushed = ring.stats().pushed_lines;
        let base = pushed - ring.len() as u64;
        // where in the history this tail begins: the history is replayed
        // from the shared ring by position, never copied per client
        let mut start = pushed;
        if t.since.is_some() || t.last.is_some() {
            let since = t.since.unwrap_or(0);
            let wanted = |rec: &crate::store::Record, bytes: &[u8]| {
                rec.seq > since && control::event_meta(bytes).is_some_and(|m| t.wants(&m))
            };
            let mut count = 0usize;
            ring.for_each(|rec, bytes| {
                count += wanted(rec, bytes) as usize;
                true
            });
            let skip = t.last.map_or(0, |n| count.saturating_sub(n));
            let (mut k, mut pos) = (0usize, base);
            start = pushed;
            ring.for_each(|rec, bytes| {
                if wanted(rec, bytes) {
                    if k == skip {
                        start = pos;
                        return false;
                    }
                    k += 1;
                }
                pos += 1;
                true
            });
        }
        let Some(c) = ctl.clients.get_mut(slot).and_then(Option::as_mut) else { return };
        c.outbox.extend_from_slice(&ack);
        c.cursor = start;
        c.until = (!t.follow).then_some(pushed);
        c.tail = Some(t);
        self.pump_control();
    }

    /// Hands the events published since the last call to the tail clients
    /// (and keeps the findings for `errors` / `urls`), then writes what
    /// clients can take. With nobody tailing that is nothing but the
    /// findings: the history already holds every event.
    pub(super) fn pump_control(&mut self) {
        let Some(ctl) = self.control.as_mut() else { return };
        let Some(history) = self.em.output_mut().history_mut() else { return };
        let ControlServer { clients, errors, urls, pumped, .. } = ctl;
        for line in history.found.drain(..) {
            let list = match control::event_meta(&line).map(|m| m.ty) {
                Some("url.detected") => &mut *urls,
                _ => &mut *errors,
            };
            if list.len() == MAX_FINDINGS {
                list.pop_front();
            }
            list.push_back(line);
        }
        let ring = &history.ring;
        let pushed = ring.stats().pushed_lines;
        let base = pushed - ring.len() as u64;
        // events too big for the history never reach a tail
        let too_big = history.too_big - *pumped;
        *pumped = history.too_big;
        let mut slow = Vec::new();
        for (slot, c) in clients.iter_mut().enumerate() {
            let Some(c) = c.as_mut() else { continue };
            if c.tail.is_none() {
                continue;
            }
            if too_big > 0 {
                c.missed += too_big;
                c.missed_last_seq = c.missed_last_seq.max(ring.last_seq().unwrap_or(0));
            }
            if c.cursor < base {
                // pushed out of the history before this client took them
                c.missed += base - c.cursor;
                c.missed_last_seq = c.missed_last_seq.max(ring.first_seq().unwrap_or(0).saturating_sub(1));
                c.cursor = base;
            }
            if c.unsent() > 0 && c.last_progress.elapsed() >= STUCK_AFTER {
                slow.push((slot, c.unsent()));
                continue;
            }
            fill_tail(c, ring);
            if c.until.is_some_and(|u| c.cursor >= u) {
                // the history asked for is out: a tail without follow ends
                c.tail = None;
                c.close_after_flush = true;
            }
        }
        for (slot, queued) in slow {
            self.drop_client(slot, Some(queued));
        }
        let busy: Vec<usize> = self
            .control
            .as_ref()
            .map(|ctl| {
                ctl.clients
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.as_ref().is_some_and(|c| c.outbox.len() > c.sent || c.close_after_flush))
                    .map(|(i, _)| i)
                    .collect()
            })
            .unwrap_or_default();
        for slot in busy {
            self.client_write(slot);
        }
        self.arm_client_sweep();
    }

    /// At the end: what clients are owed goes out (waiting at most a few
    /// seconds for slow readers), then connections close.
    pub(super) fn close_control(&mut self) {
        self.pump_control();
        let deadline = Instant::now() + std::time::Duration::from_secs(3);
        // what tails are owed (up to `daemon.stopped`) goes out, waiting a
        // little for slow readers
        while Instant::now() < deadline {
            let Some(ctl) = self.control.as_ref() else { break };
            let waiting: Vec<(usize, i32)> = ctl
                .clients
                .iter()
                .enumerate()
                .filter_map(|(slot, c)| c.as_ref().map(|c| (slot, c)))
                .filter(|(_, c)| c.unsent() > 0 || (c.tail.is_some() && c.cursor < self.history_end()))
                .map(|(slot, c)| (slot, c.stream.as_raw_fd()))
                .collect();
            if waiting.is_empty() {
                break;
            }
            for &(slot, fd) in &waiting {
                let mut pfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut pfd, 1, 100) };
                self.client_write(slot);
            }
        }
        self.control = None;
    }
}
