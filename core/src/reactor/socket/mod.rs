//! The control socket, served by the reactor: accepts clients on a Unix
//! socket (mode 0600, same uid only), reads newline-delimited JSON
//! requests, answers from the reactor's state, and streams events to
//! `tail` clients from an event history and then live.
//!
//! Rooms: this file is the transport (the socket, its clients, what they
//! may queue and when they are dropped); [`answers`] says what a request
//! means for the session; [`tail`] feeds the event stream to tail clients.
//!
//! Every client has a bounded outbox; one that stops reading is
//! disconnected when it fills (`client.dropped`), and nobody else waits.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Token};
use serde_json::Value;

use super::search;
mod answers;
mod tail;

use tail::{TAIL_WINDOW, fill_tail};

use super::Reactor;
use crate::control::{self, Command, Request, Tail};
use crate::events::Event;
use crate::files;

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
    /// A tail's place in the history: the next event to look at.
    cursor: crate::output::Cursor,
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

/// Requests that may take long (a search, a history replay, findings
/// decoded): served after the cheap ones of the turn, within its budget.
fn expensive(cmd: &Command) -> bool {
    matches!(cmd, Command::Logs(_) | Command::Tail(_) | Command::Errors(_) | Command::Urls(_))
}

/// A client whose outbox is full and that has taken nothing for this long
/// has stopped reading and is disconnected; one that is only slow gets
/// `log.dropped` markers instead.
const STUCK_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// The socket, its clients, and what they can ask about.
pub struct ControlServer {
    listener: UnixListener,
    pub path: PathBuf,
    clients: Vec<Option<Client>>,
    /// The latest `url.detected` events, oldest overwritten.
    urls: ringbuf::HeapRb<Vec<u8>>,
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
            urls: ringbuf::HeapRb::new(MAX_FINDINGS),
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
    pub(in crate::reactor) fn accept_clients(&mut self) {
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
                cursor: Default::default(),
                until: None,
            });
            self.arm_client_sweep();
            // data may already be waiting
            self.client_ready(slot);
        }
    }

    /// A client socket is readable or writable.
    pub(in crate::reactor) fn client_ready(&mut self, slot: usize) {
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
    pub(in crate::reactor) fn serve_requests(&mut self) {
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

    /// Whether some client has a request waiting for a turn.
    pub(in crate::reactor) fn requests_waiting(&self) -> bool {
        self.control
            .as_ref()
            .is_some_and(|ctl| ctl.clients.iter().flatten().any(|c| c.has_request() && c.unsent() < OUTBOX_PAUSE))
    }

    /// Closes connections that ask nothing, and drops clients that stopped
    /// taking their answers.
    pub(in crate::reactor) fn sweep_clients(&mut self) {
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
        let history = self.em.output().history_view();
        let mut broken = false;
        loop {
            if c.sent == c.outbox.len() {
                c.outbox.clear();
                c.sent = 0;
                // a tail takes its next events from the history as it reads
                match &history {
                    Some(h) if c.tail.is_some() => fill_tail(c, h),
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

    /// At the end: what clients are owed goes out (waiting at most a few
    /// seconds for slow readers), then connections close.
    pub(in crate::reactor) fn close_control(&mut self) {
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
                .filter(|(_, c)| c.unsent() > 0 || (c.tail.is_some() && c.cursor.index < self.history_end()))
                .map(|(slot, c)| (slot, c.stream.as_raw_fd()))
                .collect();
            if waiting.is_empty() {
                break;
            }
            for &(slot, fd) in &waiting {
                // SAFETY: `fd` belongs to a client stream that stays open
                // for the whole call (the clients are dropped only below).
                let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
                let mut pfd = [rustix::event::PollFd::new(&fd, rustix::event::PollFlags::OUT)];
                let _ =
                    rustix::event::poll(&mut pfd, Some(&rustix::event::Timespec { tv_sec: 0, tv_nsec: 100_000_000 }));
                self.client_write(slot);
            }
        }
        self.control = None;
    }
}
