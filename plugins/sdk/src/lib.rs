//! Guest SDK for brum plugins.
//!
//! The contract is the WIT package in `wit/` alone; this crate is only the
//! generated bindings plus a small convenience layer: implement
//! [`Plugin`] for a type with a `Default`, then `brum_plugin_sdk::export!(T);`.
//! brum hands the plugin batches of lines; the SDK walks the batch and calls
//! [`Plugin::line`] for each line the plugin asked for.
//!
//! ```ignore
//! use brum_plugin_sdk::*;
//!
//! #[derive(Default)]
//! struct Todo;
//!
//! impl Plugin for Todo {
//!     fn info() -> Info {
//!         info("todo", "0.1.0", "finds TODO markers")
//!     }
//!     fn line(&mut self, line: Line<'_>, out: &mut Output) {
//!         if let Some(text) = line.text() {
//!             if text.contains("TODO") {
//!                 out.findings.push(finding(&line, Kind::Custom, Severity::Info, text).custom("todo"));
//!             }
//!         }
//!     }
//! }
//!
//! export!(Todo);
//! ```

/// Byte helpers plugins share.
pub mod text {
    /// Copies `src` into `dst` without ANSI escape sequences.
    ///
    /// Handles CSI (`ESC [ params intermediates final`), OSC (`ESC ] ... BEL` or
    /// `ESC ] ... ESC \`, e.g. OSC-8 hyperlinks whose visible text is kept), other
    /// string sequences (DCS/SOS/PM/APC, same terminators) and two/three-byte escapes
    /// (`ESC ( B`, `ESC =` ...). An unterminated sequence is dropped to the end.
    /// The 8-bit CSI (0x9b) counts when it follows an ASCII byte: after any
    /// other byte it is part of a UTF-8 character (`⛔` is E2 9B 94).
    pub fn strip_ansi_into(src: &[u8], dst: &mut Vec<u8>) {
        strip_ansi_seeing_csi(src, dst, |_, _, _| {});
    }

    /// [`strip_ansi_into`], telling `on_csi` about every CSI sequence it
    /// drops: its parameter bytes, its final byte, and how much text `dst`
    /// held at that point (a detector can see a redraw of the line there).
    pub fn strip_ansi_seeing_csi(src: &[u8], dst: &mut Vec<u8>, mut on_csi: impl FnMut(&[u8], u8, usize)) {
        dst.clear();
        let mut i = 0;
        while i < src.len() {
            let Some(rel) = memchr::memchr2(0x1b, 0x9b, &src[i..]) else {
                dst.extend_from_slice(&src[i..]);
                return;
            };
            let at = i + rel;
            let csi8 = src[at] == 0x9b;
            if csi8 {
                if at > 0 && src[at - 1] >= 0x80 {
                    dst.extend_from_slice(&src[i..=at]);
                    i = at + 1;
                    continue;
                }
                dst.extend_from_slice(&src[i..at]);
                i = at; // the `[` arm below steps over it
            } else {
                dst.extend_from_slice(&src[i..at]);
                i = at + 1; // past ESC
            }
            match if csi8 { Some(&b'[') } else { src.get(i) } {
                None => return,
                Some(b'[') => {
                    i += 1;
                    let params = i;
                    while i < src.len() && (0x20..=0x3f).contains(&src[i]) {
                        i += 1;
                    }
                    if i < src.len() && (0x40..=0x7e).contains(&src[i]) {
                        on_csi(&src[params..i], src[i], dst.len());
                        i += 1;
                    }
                }
                Some(b']' | b'P' | b'X' | b'^' | b'_') => {
                    i += 1;
                    loop {
                        match src.get(i) {
                            None => return,
                            Some(0x07) => {
                                i += 1;
                                break;
                            }
                            Some(0x1b) if src.get(i + 1) == Some(&b'\\') => {
                                i += 2;
                                break;
                            }
                            Some(_) => i += 1,
                        }
                    }
                }
                Some(_) => {
                    // ESC, optional intermediates (0x20-0x2f), one final byte.
                    while i < src.len() && (0x20..=0x2f).contains(&src[i]) {
                        i += 1;
                    }
                    if i < src.len() {
                        i += 1;
                    }
                }
            }
        }
    }
}

#[doc(hidden)]
#[allow(clippy::too_many_arguments)] // generated: the batch's columns arrive as flat arguments
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "wit",
        pub_export_macro: true,
        default_bindings_module: "brum_plugin_sdk::bindings",
        export_macro_name: "export_world",
    });
}

pub use bindings::brum::plugin::types::{Finding, Kind, LineVerdict, Pipe, Severity, Verdict};

/// Bit of `Batch::flags`: the line came from stderr.
pub const FLAG_STDERR: u8 = 1;
/// Bit of `Batch::flags`: the line was cut at brum's maximum length.
pub const FLAG_TRUNCATED: u8 = 2;
pub use bindings::{Batch, Guest, Info, Output, ProcessEnd, ProcessStart};

/// One line of a batch, borrowed.
#[derive(Clone, Copy)]
pub struct Line<'a> {
    pub process: u32,
    pub pipe: Pipe,
    pub seq: u64,
    pub ts_ms: i64,
    pub truncated: bool,
    pub bytes: &'a [u8],
}

impl<'a> Line<'a> {
    /// The line as text, when it is valid UTF-8.
    pub fn text(&self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes).ok()
    }

    pub fn is_stderr(&self) -> bool {
        matches!(self.pipe, Pipe::Stderr)
    }
}

/// The lines of a batch, in order (read from its columns; a line whose
/// range falls outside `data` reads as empty).
pub fn lines(batch: &Batch) -> impl Iterator<Item = Line<'_>> {
    (0..line_count(batch)).map(move |i| line_at(batch, i))
}

/// How many lines the batch holds (its shortest column).
pub fn line_count(batch: &Batch) -> usize {
    [batch.process.len(), batch.ts_ms.len(), batch.start.len(), batch.len.len(), batch.flags.len()]
        .into_iter()
        .fold(batch.seq.len(), usize::min)
}

/// Line `i` of the batch (`i` below [`line_count`]; a line whose range
/// falls outside `data` reads as empty).
pub fn line_at(batch: &Batch, i: usize) -> Line<'_> {
    let start = batch.start[i] as usize;
    let end = start.saturating_add(batch.len[i] as usize).min(batch.data.len());
    let flags = batch.flags[i];
    Line {
        process: batch.process[i],
        pipe: if flags & FLAG_STDERR != 0 { Pipe::Stderr } else { Pipe::Stdout },
        seq: batch.seq[i],
        ts_ms: batch.ts_ms[i],
        truncated: flags & FLAG_TRUNCATED != 0,
        bytes: batch.data.get(start..end).unwrap_or(&[]),
    }
}

/// An empty output.
pub fn output() -> Output {
    Output { findings: Vec::new(), verdicts: Vec::new(), tick_after_ms: None }
}

/// Info with the usual defaults (all pipes, all processes, not a filter).
pub fn info(name: &str, version: &str, description: &str) -> Info {
    Info {
        name: name.into(),
        version: version.into(),
        description: description.into(),
        pipes: Vec::new(),
        processes: Vec::new(),
        filter: false,
    }
}

/// A finding covering one line.
pub fn finding(line: &Line<'_>, kind: Kind, severity: Severity, message: &str) -> Finding {
    Finding {
        kind,
        custom_kind: None,
        severity,
        process: line.process,
        message: message.into(),
        first_seq: line.seq,
        last_seq: line.seq,
        file: None,
        line: None,
        column: None,
        code: None,
        url: None,
        language: None,
        fields: Vec::new(),
    }
}

/// Builder-style setters for findings.
pub trait FindingExt {
    fn custom(self, kind: &str) -> Self;
    fn at(self, file: &str, line: Option<u32>, column: Option<u32>) -> Self;
    fn field(self, key: &str, value: &str) -> Self;
}

impl FindingExt for Finding {
    fn custom(mut self, kind: &str) -> Self {
        self.kind = Kind::Custom;
        self.custom_kind = Some(kind.into());
        self
    }
    fn at(mut self, file: &str, line: Option<u32>, column: Option<u32>) -> Self {
        self.file = Some(file.into());
        self.line = line;
        self.column = column;
        self
    }
    fn field(mut self, key: &str, value: &str) -> Self {
        self.fields.push((key.into(), value.into()));
        self
    }
}

/// What a plugin implements. Every method but [`Plugin::info`] has a
/// default that does nothing.
pub trait Plugin: Default + 'static {
    fn info() -> Info;

    fn configure(&mut self, _settings: &[(String, String)]) -> Result<(), String> {
        Ok(())
    }

    fn process_started(&mut self, _p: &ProcessStart, _out: &mut Output) {}

    fn process_ended(&mut self, _p: &ProcessEnd, _out: &mut Output) {}

    /// Called for every line of a batch, in order.
    fn line(&mut self, _line: Line<'_>, _out: &mut Output) {}

    /// Called once per batch; the default calls [`Plugin::line`] per line.
    fn batch(&mut self, batch: &Batch, out: &mut Output) {
        for l in lines(batch) {
            self.line(l, out);
        }
    }

    fn tick(&mut self, _now_ms: i64, _out: &mut Output) {}
}

#[doc(hidden)]
pub mod __private {
    use super::*;
    use std::cell::RefCell;

    /// Adapts a [`Plugin`] to the generated world trait, keeping the
    /// plugin's state in a thread-local (a component is single-threaded).
    pub struct Adapter<P: Plugin>(std::marker::PhantomData<P>);

    thread_local! {
        static STATE: RefCell<Option<Box<dyn std::any::Any>>> = const { RefCell::new(None) };
    }

    fn with<P: Plugin, R>(f: impl FnOnce(&mut P) -> R) -> R {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            let any = s.get_or_insert_with(|| Box::new(P::default()));
            match any.downcast_mut::<P>() {
                Some(p) => f(p),
                None => unreachable!("one plugin type per component"),
            }
        })
    }

    impl<P: Plugin> Guest for Adapter<P> {
        fn describe() -> Info {
            P::info()
        }
        fn configure(settings: Vec<(String, String)>) -> Result<(), String> {
            with::<P, _>(|p| p.configure(&settings))
        }
        fn process_started(ps: ProcessStart) -> Output {
            let mut out = output();
            with::<P, _>(|p| p.process_started(&ps, &mut out));
            out
        }
        fn process_ended(pe: ProcessEnd) -> Output {
            let mut out = output();
            with::<P, _>(|p| p.process_ended(&pe, &mut out));
            out
        }
        fn lines(batch: Batch) -> Output {
            let mut out = output();
            with::<P, _>(|p| p.batch(&batch, &mut out));
            out
        }
        fn tick(now_ms: i64) -> Output {
            let mut out = output();
            with::<P, _>(|p| p.tick(now_ms, &mut out));
            out
        }
    }
}

/// Exports a [`Plugin`] type as the component's implementation of the
/// brum plugin world.
#[macro_export]
macro_rules! export {
    ($t:ty) => {
        type __BrumPluginAdapter = $crate::__private::Adapter<$t>;
        $crate::bindings::export_world!(__BrumPluginAdapter with_types_in $crate::bindings);
    };
}
