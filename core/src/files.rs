//! The files a session keeps in its project's `.brum/`: the control socket,
//! `brum up`'s event log and error file. They hold everything the processes
//! printed (tokens, secrets), so only their owner may read them: the
//! directory is 0700, files 0600, a symbolic link is never followed, and
//! nothing but a stale socket is ever replaced.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0} is a symbolic link; brum does not follow links for its own files (remove it)")]
    Symlink(PathBuf),
    #[error("{0} exists and is not a socket; brum will not replace it (move it away)")]
    NotASocket(PathBuf),
    #[error("cannot use {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |source| FileError::Io { path: path.to_path_buf(), source }
}

/// Makes `dir` (and its parents) a directory only its owner can enter; an
/// existing one is tightened to 0700. A `.brum` directory also gets a
/// `.gitignore` of `*`, so it never shows in `git status`.
pub fn private_dir(dir: &Path) -> Result<(), FileError> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => return Err(FileError::Symlink(dir.to_path_buf())),
        Ok(m) if m.is_dir() => {
            if m.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io_err(dir))?;
            }
        }
        Ok(_) => return Err(FileError::Io { path: dir.to_path_buf(), source: io::Error::other("not a directory") }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io_err(dir))?;
        }
        Err(e) => return Err(io_err(dir)(e)),
    }
    if dir.file_name().is_some_and(|n| n == ".brum") {
        let ignore = dir.join(".gitignore");
        if std::fs::symlink_metadata(&ignore).is_err() {
            // best effort: a read-only checkout still runs
            if let Ok(mut f) = private_file(&ignore, false) {
                let _ = io::Write::write_all(&mut f, b"# brum's session files: never commit them\n*\n");
            }
        }
    }
    Ok(())
}

/// Opens `path` for writing, only by its owner (0600, tightened if it
/// existed wider), never through a symbolic link. `append` keeps what is
/// there; otherwise the file is truncated.
pub fn private_file(path: &Path, append: bool) -> Result<File, FileError> {
    let mut o = OpenOptions::new();
    o.write(true).create(true).mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    if append {
        o.append(true);
    } else {
        o.truncate(true);
    }
    let f = o.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) { FileError::Symlink(path.to_path_buf()) } else { io_err(path)(e) }
    })?;
    let meta = f.metadata().map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(FileError::Io { path: path.to_path_buf(), source: io::Error::other("not a regular file") });
    }
    if meta.permissions().mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io_err(path))?;
    }
    Ok(f)
}

/// The control socket of the project in `dir`: `dir/.brum/brum.sock`.
pub fn default_socket(dir: &Path) -> PathBuf {
    dir.join(".brum").join("brum.sock")
}

/// The socket a client command talks to: `socket` if given, else the one
/// of the project whose configuration file is `config`, else the one of
/// the current directory's project.
pub fn client_socket(socket: Option<&Path>, config: Option<&Path>) -> PathBuf {
    if let Some(s) = socket {
        return s.to_path_buf();
    }
    let dir = match config {
        Some(c) => c.parent().filter(|p| !p.as_os_str().is_empty()).map(PathBuf::from).unwrap_or_else(|| ".".into()),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    default_socket(&dir)
}

/// What is at a socket path before brum binds it.
#[derive(Debug, PartialEq, Eq)]
pub enum SocketPath {
    Free,
    /// A socket file (live or stale: the caller connects to find out).
    Socket,
}

/// Checks the socket path: free, or a socket; anything else is refused.
pub fn socket_path_state(path: &Path) -> Result<SocketPath, FileError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => Ok(SocketPath::Socket),
        Ok(m) if m.file_type().is_symlink() => Err(FileError::Symlink(path.to_path_buf())),
        Ok(_) => Err(FileError::NotASocket(path.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(SocketPath::Free),
        Err(e) => Err(io_err(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).expect("exists").permissions().mode() & 0o777
    }

    #[test]
    fn state_dir_and_files_are_the_owners_only() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("proj").join(".brum");
        private_dir(&dir).expect("created");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(std::fs::read_to_string(dir.join(".gitignore")).expect("ignore").lines().last(), Some("*"));
        // an old, wider one is tightened
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        private_dir(&dir).expect("again");
        assert_eq!(mode(&dir), 0o700);
        let log = dir.join("brum.log");
        std::fs::write(&log, "old\n").expect("write");
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        drop(private_file(&log, true).expect("open"));
        assert_eq!(mode(&log), 0o600);
        assert_eq!(std::fs::read_to_string(&log).expect("read"), "old\n", "append keeps what was there");
    }

    #[test]
    fn links_are_never_followed_and_only_sockets_replaced() {
        let tmp = tempfile::tempdir().expect("tmp");
        let target = tmp.path().join("victim");
        std::fs::write(&target, "precious\n").expect("write");
        let link = tmp.path().join("brum.log");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let err = private_file(&link, true).expect_err("a link");
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "precious\n");
        assert!(matches!(socket_path_state(&link), Err(FileError::Symlink(_))));
        assert!(matches!(socket_path_state(&target), Err(FileError::NotASocket(_))));
        assert_eq!(socket_path_state(&tmp.path().join("none")).expect("free"), SocketPath::Free);
        let linked_dir = tmp.path().join(".brum");
        std::os::unix::fs::symlink(tmp.path(), &linked_dir).expect("symlink");
        assert!(matches!(private_dir(&linked_dir), Err(FileError::Symlink(_))));
    }
}
