//! `host:port` addresses as every rcluster process writes them (partition servers' announce
//! addresses, masters to follow, proxies, config peers): one parser, so that what one process
//! accepts the others accept too.

/// Splits `host:port` (or `[v6]:port`) into host and port; `None` unless the host is
/// non-empty and the port a number that fits in 16 bits.
pub fn split_host_port(addr: &str) -> Option<(&str, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    (!host.is_empty()).then_some((host, port))
}

/// `host:port`, bracketing an IPv6 host (`[::1]:7000`): what [`split_host_port`] reads back.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_addresses_split_back() {
        for (host, port) in [("h", 1), ("::1", 7000), ("10.0.0.1", 6379)] {
            assert_eq!(split_host_port(&join_host_port(host, port)), Some((host, port)));
        }
        assert_eq!(join_host_port("::1", 7000), "[::1]:7000");
    }

    #[test]
    fn host_and_port_split() {
        assert_eq!(split_host_port("h:1"), Some(("h", 1)));
        assert_eq!(split_host_port("[::1]:7000"), Some(("::1", 7000)));
        for bad in ["h", "h:", ":7000", "h:70000", "h:x"] {
            assert_eq!(split_host_port(bad), None, "{bad}");
        }
    }
}
