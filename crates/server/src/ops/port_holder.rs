//! Who holds a port we cannot bind: the sockets in /proc/net/{udp,tcp}{,6}
//! on that port, matched by inode to a process's open files. On an Ubuntu
//! VM port 53 is usually systemd-resolved's stub on 127.0.0.53; the hint
//! says what to do about it.

use std::net::SocketAddr;

/// A process holding a socket on the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holder {
    pub(crate) pid: u32,
    pub(crate) command: String,
    /// The local address the holder's socket is bound to, as /proc shows it.
    pub(crate) local: String,
}

/// The hint for an "address in use" on `address`: who holds the port when
/// /proc tells, and what to do.
pub(crate) fn hint(address: SocketAddr) -> String {
    let holders = holders(address.port());
    let who = match holders.first() {
        Some(holder) => format!(
            "port {} is held by {} (pid {}) on {}",
            address.port(),
            holder.command,
            holder.pid,
            holder.local
        ),
        None => format!(
            "another process holds port {} (run `ss -lunp 'sport = :{}'` as root to see which)",
            address.port(),
            address.port()
        ),
    };
    let advice = match holders.first().map(|h| h.command.as_str()) {
        Some("systemd-resolve" | "systemd-resolved") => {
            "systemd-resolved's stub listens on 127.0.0.53:53: listen on the VM's own address \
             (listen = [\"10.x.y.z:53\"]) instead of 0.0.0.0, or set DNSStubListener=no in \
             /etc/systemd/resolved.conf and restart systemd-resolved"
        }
        Some("dnsmasq") => "stop dnsmasq or make it bind only its own interfaces (bind-interfaces)",
        Some("named" | "unbound" | "knotd") => {
            "another DNS server runs here: stop it, or give each server its own address"
        }
        _ => "listen on a specific address the other process does not use, or stop it",
    };
    format!("{who}; {advice}")
}

/// Processes with a socket bound to `port` (UDP or TCP, IPv4 or IPv6).
pub(crate) fn holders(port: u16) -> Vec<Holder> {
    let mut sockets: Vec<(u64, String)> = Vec::new();
    for table in ["udp", "udp6", "tcp", "tcp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(inode)) = (fields.get(1), fields.get(9)) else {
                continue;
            };
            let Some((ip, hex_port)) = local.rsplit_once(':') else {
                continue;
            };
            if u16::from_str_radix(hex_port, 16) != Ok(port) {
                continue;
            }
            if let Ok(inode) = inode.parse::<u64>()
                && inode != 0
            {
                sockets.push((inode, format!("{}:{port}", readable_ip(ip))));
            }
        }
    }
    if sockets.is_empty() {
        return Vec::new();
    }
    let mut found = Vec::new();
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in processes.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if let Some((_, local)) = sockets.iter().find(|(i, _)| *i == inode) {
                let command = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .map(|c| c.trim().to_owned())
                    .unwrap_or_else(|_| "?".to_owned());
                found.push(Holder {
                    pid,
                    command,
                    local: local.clone(),
                });
                break;
            }
        }
    }
    found
}

/// /proc/net's hex address (little-endian words) as text; IPv6 shown as hex.
fn readable_ip(hex: &str) -> String {
    if hex.len() == 8
        && let Ok(value) = u32::from_str_radix(hex, 16)
    {
        return std::net::Ipv4Addr::from(value.swap_bytes()).to_string();
    }
    format!("[{hex}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_of_a_bound_port_is_found() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let holders = holders(port);
        let me = holders
            .iter()
            .find(|h| h.pid == std::process::id())
            .unwrap_or_else(|| panic!("{holders:?}"));
        assert_eq!(me.local, format!("127.0.0.1:{port}"));
        assert!(hint(SocketAddr::from(([127, 0, 0, 1], port))).contains("is held by"));
        assert_eq!(readable_ip("3500007F"), "127.0.0.53");
    }
}
