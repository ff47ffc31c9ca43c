//! Where webhooks may go: `http(s)` URLs whose addresses are public, unless private targets
//! are allowed. Checked when an endpoint is created or changed ([`check_url`]) and at every
//! connection: the client resolves names through [`GuardedResolver`], which drops private
//! addresses, so a name that later resolves to a private address (DNS rebinding) is refused
//! too; URLs naming an address are checked before each attempt ([`check_literal`]).

use crate::error::{Error, Result};
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether `ip` is private, loopback, link-local or otherwise not a public address
/// (unspecified, broadcast, multicast, documentation, shared, unique local).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return private_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0)
        }
    }
}

fn private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || a >= 240
}

/// `url` checked: `http` or `https`, a host, and (unless `allow_private`) every address the
/// host resolves to public. Errors name the reason.
pub async fn check_url(url: &str, allow_private: bool) -> Result<Url> {
    let parsed = Url::parse(url).map_err(|e| Error::Target(format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Target(format!(
            "must be http or https, not `{}`",
            parsed.scheme()
        )));
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err(Error::Target("has no host".into()));
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::Target(
            "must not hold credentials (the signature authenticates messages)".into(),
        ));
    }
    if allow_private {
        return Ok(parsed);
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| Error::Target(format!("`{host}` does not resolve: {e}")))?
        .collect();
    if let Some(private) = addresses.iter().find(|a| is_private(a.ip())) {
        return Err(Error::Target(format!(
            "`{host}` is a private, loopback or link-local address ({}); such targets are \
             refused unless webhook_allow_private_targets is on",
            private.ip()
        )));
    }
    Ok(parsed)
}

/// Refuses a URL whose host is a private address literal (names go through
/// [`GuardedResolver`]).
pub fn check_literal(url: &Url) -> Result<()> {
    let host = url.host_str().unwrap_or_default();
    let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    else {
        return Ok(());
    };
    if is_private(ip) {
        return Err(Error::Target(format!(
            "refused private address {ip} (webhook_allow_private_targets is off)"
        )));
    }
    Ok(())
}

/// A resolver that answers only public addresses, and fails when a name has none.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> =
                found.into_iter().filter(|a| !is_private(a.ip())).collect();
            if public.is_empty() {
                let message = format!(
                    "refused: `{host}` resolves only to private addresses \
                     (webhook_allow_private_targets is off)"
                );
                return Err(message.into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_link_local_are_private() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn urls_are_checked() {
        let refused =
            |url: &'static str| async move { check_url(url, false).await.unwrap_err().to_string() };
        assert!(refused("ftp://example.com").await.contains("http or https"));
        assert!(refused("not a url").await.contains("not a URL"));
        assert!(refused("http://127.0.0.1:9/x").await.contains("private"));
        assert!(refused("http://[::1]/x").await.contains("private"));
        assert!(refused("http://localhost:8080/").await.contains("private"));
        assert!(refused("http://169.254.169.254/").await.contains("private"));
        assert!(check_url("http://127.0.0.1:9/x", true).await.is_ok());
        let literal = Url::parse("http://10.0.0.1/").unwrap();
        assert!(check_literal(&literal).is_err());
        assert!(check_literal(&Url::parse("http://8.8.8.8/").unwrap()).is_ok());
    }
}
