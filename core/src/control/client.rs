//! The blocking client the CLI uses to talk to a running brum (one request
//! per connection). Not used by the reactor.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// Why talking to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no brum is running here (nothing listens on {0}); start one with `brum up` or `brum run`")]
    NotRunning(PathBuf),
    #[error("cannot talk to brum on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("brum answered: {0}")]
    Refused(String),
    #[error("brum sent an answer that is not JSON: {0}")]
    BadAnswer(String),
}

/// A connection with one request sent.
pub struct Conn {
    reader: BufReader<UnixStream>,
    path: PathBuf,
}

/// Connects to `socket` and sends `request`.
pub fn request(socket: &Path, request: &Value) -> Result<Conn, ClientError> {
    let stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            ClientError::NotRunning(socket.to_path_buf())
        }
        _ => ClientError::Io { path: socket.to_path_buf(), source: e },
    })?;
    let io = |e| ClientError::Io { path: socket.to_path_buf(), source: e };
    let mut line = serde_json::to_vec(request).map_err(|e| ClientError::BadAnswer(e.to_string()))?;
    line.push(b'\n');
    let mut conn = Conn { reader: BufReader::new(stream), path: socket.to_path_buf() };
    if let Err(e) = conn.reader.get_ref().write_all(&line) {
        // brum may have answered and closed before reading a word (a
        // refused peer): that answer, not the broken pipe, is the news
        conn.set_timeout(Some(Duration::from_secs(1)));
        return Err(match conn.answer() {
            Err(refused @ ClientError::Refused(_)) => refused,
            _ => io(e),
        });
    }
    Ok(conn)
}

impl Conn {
    /// Reads the next line, or None at the end of the connection.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> Result<bool, ClientError> {
        buf.clear();
        let n =
            self.reader.read_until(b'\n', buf).map_err(|e| ClientError::Io { path: self.path.clone(), source: e })?;
        Ok(n > 0)
    }

    /// Reads one answer object; an `ok: false` answer becomes an error.
    pub fn answer(&mut self) -> Result<Value, ClientError> {
        let mut buf = Vec::new();
        if !self.next_line(&mut buf)? {
            return Err(ClientError::BadAnswer("the connection closed without an answer".into()));
        }
        let v: Value = serde_json::from_slice(&buf)
            .map_err(|_| ClientError::BadAnswer(String::from_utf8_lossy(&buf).trim().to_string()))?;
        if v["ok"] == Value::Bool(false) {
            return Err(ClientError::Refused(v["error"].as_str().unwrap_or("unknown error").to_string()));
        }
        Ok(v)
    }

    /// Bytes already received and not yet read.
    pub fn buffered(&self) -> usize {
        self.reader.buffer().len()
    }

    pub fn set_timeout(&self, t: Option<Duration>) {
        let _ = self.reader.get_ref().set_read_timeout(t);
    }
}

/// One request, one answer.
pub fn call(socket: &Path, req: &Value) -> Result<Value, ClientError> {
    let mut c = request(socket, req)?;
    c.set_timeout(Some(Duration::from_secs(30)));
    c.answer()
}
