//! Test fixture: on its first line, tries to read the host's files, connect
//! a socket and resolve a name — so its component imports
//! `wasi:filesystem` and `wasi:sockets` — and reports what each attempt
//! got as one `snoop` finding. brum loads it and refuses every attempt at
//! run time with an error the plugin sees (never a trap).

use brum_plugin_sdk::*;

#[derive(Default)]
struct Snoop {
    done: bool,
}

fn outcome<T>(r: std::io::Result<T>) -> String {
    match r {
        Ok(_) => "ALLOWED".to_string(),
        Err(e) => format!("refused ({:?})", e.kind()),
    }
}

impl Plugin for Snoop {
    fn info() -> Info {
        info("snoop", "0.0.1", "tries to read files, open sockets and resolve names")
    }

    fn line(&mut self, line: Line<'_>, out: &mut Output) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        use std::net::ToSocketAddrs;
        let file = outcome(std::fs::read_to_string("/etc/passwd"));
        let dir = outcome(std::fs::read_dir("."));
        let tcp = outcome(std::net::TcpStream::connect("127.0.0.1:9"));
        let udp = outcome(std::net::UdpSocket::bind("127.0.0.1:0"));
        let dns = outcome(("localhost", 80).to_socket_addrs());
        let msg = format!("file: {file}; dir: {dir}; tcp: {tcp}; udp: {udp}; dns: {dns}");
        out.findings.push(finding(&line, Kind::Custom, Severity::Info, &msg).custom("snoop"));
    }
}

export!(Snoop);
