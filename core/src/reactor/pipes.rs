//! Reading children's pipes: round-robin over the ready ones, each within
//! its budget, never more than the output has room for (backpressure), and
//! at the end of a run what is left in them.

use std::io::{self, Read};
use std::os::fd::OwnedFd;

use mio::unix::pipe::Receiver;
use mio::{Interest, Token};

use super::findings::ToPlugins;
use super::{Pipe, Reactor};
use crate::events::{ProcRef, now_ms};
use crate::store::Stream;

/// Pipe tokens are `FIRST_PIPE + proc * 2 + slot` (slot 0 stdout, 1 stderr).
pub(super) const FIRST_PIPE: usize = 16;
/// Bytes read per `read(2)`, at most.
pub(super) const READ_CHUNK: usize = 128 * 1024;
/// Bytes read per `read(2)` when the output is nearly full, at least.
const MIN_READ: usize = 16 * 1024;
/// Bytes one pipe may deliver per turn before the others get their go.
const READ_BUDGET: usize = 128 * 1024;
/// Bytes all pipes together may deliver per turn: then signals, timers and
/// control clients get their turn (and the control tee stays small).
const TURN_BUDGET: usize = 256 * 1024;
/// How often evictions from the rings are reported, at most.
const EVICT_REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub(super) fn pipe_token(proc: usize, slot: usize) -> Token {
    Token(FIRST_PIPE + proc * 2 + slot)
}

/// The process and slot of a pipe token.
pub(super) fn pipe_of(token: usize) -> (usize, usize) {
    ((token - FIRST_PIPE) / 2, (token - FIRST_PIPE) % 2)
}

fn stream_of(slot: usize) -> Stream {
    if slot == 0 { Stream::Stdout } else { Stream::Stderr }
}

pub(super) enum ReadResult {
    /// Budget used up with data left: come back next turn.
    More,
    /// Nothing more to read now.
    Drained,
    Eof,
}

impl Reactor {
    pub(super) fn add_pipe(&mut self, i: usize, slot: usize, fd: OwnedFd) {
        let mut rx = Receiver::from(fd);
        if self.poll.registry().register(&mut rx, pipe_token(i, slot), Interest::READABLE).is_ok() {
            self.procs[i].pipes[slot] = Some(Pipe { rx, queued: true });
            // Read once right away: data may already be there.
            self.ready.push_back((i, slot));
        }
    }

    /// A pipe became readable.
    pub(super) fn pipe_ready(&mut self, token: usize) {
        let (i, slot) = pipe_of(token);
        if let Some(pipe) = self.procs.get_mut(i).and_then(|p| p.pipes[slot].as_mut())
            && !pipe.queued
        {
            pipe.queued = true;
            self.ready.push_back((i, slot));
        }
    }

    /// Reads ready pipes round-robin, each up to its budget, while the output
    /// has room.
    pub(super) fn read_pipes(&mut self) {
        let mut turns = self.ready.len();
        self.turn_read = 0;
        while turns > 0 && self.turn_read < TURN_BUDGET {
            turns -= 1;
            if self.output_room() == 0 {
                // lines waiting for the plugins count as output already
                self.flush_batch();
                self.flush_output();
                if self.em.output().is_full() {
                    return; // backpressure: resume when stdout drains
                }
            }
            let Some((i, slot)) = self.ready.pop_front() else {
                return;
            };
            match self.read_one(i, slot, true) {
                ReadResult::More => self.ready.push_back((i, slot)),
                ReadResult::Drained => {
                    if let Some(p) = self.procs[i].pipes[slot].as_mut() {
                        p.queued = false;
                    }
                }
                ReadResult::Eof => self.close_pipe(i, slot),
            }
        }
        self.flush_batch();
    }

    /// Room left in the output, counting the lines batched for the plugins
    /// (not yet encoded) as taken.
    pub(super) fn output_room(&self) -> usize {
        self.em.output().room().saturating_sub(self.host.as_ref().map_or(0, |h| h.batch.data.len()))
    }

    /// Reads one pipe up to its budget; `fair` limits each read to the
    /// output's room (see below).
    fn read_one(&mut self, i: usize, slot: usize, fair: bool) -> ReadResult {
        let mut budget = READ_BUDGET;
        let stream = stream_of(slot);
        loop {
            let room = self.output_room();
            let p = &mut self.procs[i];
            let Some(pipe) = p.pipes[slot].as_mut() else {
                return ReadResult::Drained;
            };
            // no bigger than what the output has room for (its events are
            // larger still): a read's events queue ahead of every line read
            // after it, so a chatty process must not bury a quiet one
            let limit = if fair { room.clamp(MIN_READ, READ_CHUNK) } else { READ_CHUNK };
            match pipe.rx.read(&mut self.rbuf[..limit]) {
                Ok(0) => return ReadResult::Eof,
                Ok(n) => {
                    self.turn_read += n;
                    let pref = ProcRef { name: &p.spec.name, index: p.index };
                    match self.host.as_mut() {
                        Some(host) => {
                            let mut sink = ToPlugins { em: &mut self.em, host };
                            p.capture.ingest(pref, stream, &self.rbuf[..n], now_ms(), &mut sink);
                            if host.batch_full() {
                                self.flush_batch();
                            }
                        }
                        None => p.capture.ingest(pref, stream, &self.rbuf[..n], now_ms(), &mut self.em),
                    }
                    budget = budget.saturating_sub(n);
                    self.check_log_probe(i);
                    let p = &self.procs[i];
                    if p.capture.evicted_unreported > 0 && !self.evict_report_armed {
                        self.evict_report_armed = true;
                        self.timers.arm(std::time::Instant::now() + EVICT_REPORT_EVERY, super::TimerKind::EvictReport);
                    }
                    if budget == 0 || self.output_room() == 0 || self.turn_read >= TURN_BUDGET {
                        return ReadResult::More;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadResult::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return ReadResult::Eof,
            }
        }
    }

    pub(super) fn close_pipe(&mut self, i: usize, slot: usize) {
        let p = &mut self.procs[i];
        if let Some(mut pipe) = p.pipes[slot].take() {
            let _ = self.poll.registry().deregister(&mut pipe.rx);
            let pref = ProcRef { name: &p.spec.name, index: p.index };
            match self.host.as_mut() {
                Some(host) => {
                    let mut sink = ToPlugins { em: &mut self.em, host };
                    p.capture.finish(pref, stream_of(slot), now_ms(), &mut sink);
                }
                None => p.capture.finish(pref, stream_of(slot), now_ms(), &mut self.em),
            }
            self.check_log_probe(i);
        }
        self.ready.retain(|&(pi, ps)| !(pi == i && ps == slot));
        let p = &self.procs[i];
        if p.child.is_exiting() && p.pipes.iter().all(Option::is_none) {
            self.finish_run(i);
        }
    }

    /// Reads whatever is left in a process's pipes and closes them.
    pub(super) fn drain_and_close(&mut self, i: usize) {
        for slot in 0..2 {
            // bounded: a writer outside the group may never stop
            for _ in 0..8 {
                if self.procs[i].pipes[slot].is_none() {
                    break;
                }
                // whole reads: what is left now is read now or never
                match self.read_one(i, slot, false) {
                    ReadResult::More => {
                        self.flush_batch();
                        self.flush_output();
                    }
                    ReadResult::Drained | ReadResult::Eof => break,
                }
            }
            if self.procs[i].pipes[slot].is_some() {
                self.close_pipe(i, slot);
            }
        }
    }

    /// Deregisters and drops whatever pipes a process still holds.
    pub(super) fn forget_pipes(&mut self, i: usize) {
        for slot in 0..2 {
            if let Some(mut pipe) = self.procs[i].pipes[slot].take() {
                let _ = self.poll.registry().deregister(&mut pipe.rx);
            }
        }
        self.ready.retain(|&(pi, _)| pi != i);
    }
}
