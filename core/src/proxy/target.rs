//! Which announced URLs get a proxy, and where the proxy connects: an
//! `http://` URL on a loopback or LAN address (`localhost`, `*.localhost`,
//! `127.0.0.0/8`, `0.0.0.0`, `10/8`, `172.16/12`, `192.168/16`,
//! `169.254/16`, `::1`, `::`, `fc00::/7`). Anything else gets no proxy,
//! with the reason said once.
//!
//! Leaf: no I/O and no name resolution (a DNS lookup would block the
//! reactor): `localhost` means both loopback addresses, tried in turn.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Where a proxied URL's dev server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as announced.
    pub url: String,
    /// `host:port` as announced (the `Host` of requests that have none).
    pub authority: String,
    pub port: u16,
    /// Addresses to connect to, in order (`localhost`: IPv4, then IPv6).
    pub addrs: Vec<SocketAddr>,
    /// The URL's path (and query), `/` at least: the proxy URL keeps it.
    pub path: String,
}

/// Why an announced URL gets no proxy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoProxy {
    #[error("https: brum's proxy would have to end TLS with a certificate the browser trusts; open the URL directly")]
    Https,
    #[error("{0} is not a loopback or LAN address")]
    NotLocal(String),
    #[error("not an http:// URL with a host")]
    NotHttp,
}

/// The dev server behind `url`, if brum proxies it.
pub fn target(url: &str) -> Result<Target, NoProxy> {
    if url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) {
        return Err(NoProxy::Https);
    }
    let rest = match url.get(..7) {
        Some(s) if s.eq_ignore_ascii_case("http://") => &url[7..],
        _ => return Err(NoProxy::NotHttp),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return Err(NoProxy::NotHttp);
    }
    let (host, port) = split_port(authority).ok_or(NoProxy::NotHttp)?;
    let addrs = local_addrs(host, port).ok_or_else(|| NoProxy::NotLocal(host.to_string()))?;
    let path = path.split('#').next().unwrap_or("");
    let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
    Ok(Target { url: url.to_string(), authority: authority.to_string(), port, addrs, path })
}

/// `host[:port]` (IPv6 in brackets); port 80 when absent.
fn split_port(authority: &str) -> Option<(&str, u16)> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 80,
            None => return None,
        };
        return Some((host, port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h, p.parse().ok()?)),
        None => Some((authority, 80)),
    }
}

fn local_addrs(host: &str, port: u16) -> Option<Vec<SocketAddr>> {
    let lower = host.to_ascii_lowercase();
    let lower = lower.strip_suffix('.').unwrap_or(&lower);
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Some(vec![
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port),
        ]);
    }
    let ip: IpAddr = lower.parse().ok()?;
    let ip = match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    let local = match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        // unique local (fc00::/7); link-local would need a scope id
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    };
    local.then(|| vec![SocketAddr::new(ip, port)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_lan_urls_are_proxied() {
        let t = target("http://localhost:5173/").expect("proxied");
        assert_eq!((t.port, t.path.as_str(), t.authority.as_str()), (5173, "/", "localhost:5173"));
        assert_eq!(t.addrs.len(), 2, "IPv4 then IPv6");
        let t = target("http://0.0.0.0:8000").expect("proxied");
        assert_eq!(t.addrs, [SocketAddr::from(([127, 0, 0, 1], 8000))]);
        assert_eq!(t.path, "/");
        let t = target("http://[::]:3000/app/?x=1#top").expect("proxied");
        assert_eq!(t.addrs, [SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 3000)]);
        assert_eq!(t.path, "/app/?x=1");
        assert_eq!(target("http://192.168.1.5:5173/").expect("LAN").addrs[0].port(), 5173);
        assert_eq!(target("HTTP://app.localhost").expect("proxied").port, 80);
        assert_eq!(
            target("http://[::ffff:127.0.0.1]:9/").expect("mapped").addrs[0],
            SocketAddr::from(([127, 0, 0, 1], 9))
        );
    }

    #[test]
    fn others_get_no_proxy_and_a_reason() {
        assert_eq!(target("https://localhost:5173/"), Err(NoProxy::Https));
        assert_eq!(target("http://example.com/"), Err(NoProxy::NotLocal("example.com".into())));
        assert_eq!(target("http://8.8.8.8:80/"), Err(NoProxy::NotLocal("8.8.8.8".into())));
        assert_eq!(target("ftp://localhost/"), Err(NoProxy::NotHttp));
        assert_eq!(target("http://localhost:99999/"), Err(NoProxy::NotHttp));
        assert_eq!(target("http://user@localhost:1/"), Err(NoProxy::NotHttp));
        assert_eq!(target("http:///x"), Err(NoProxy::NotHttp));
    }
}
