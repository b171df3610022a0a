//! Turns Nagle's algorithm off on the writer's database connections.
//!
//! sqlx 0.9.0 no longer sets `TCP_NODELAY` on its sockets (transact-rs/sqlx#4335, fixed upstream
//! after that release). Most statements go out in one write and are unaffected, but a PostgreSQL
//! `COPY` sends its data and its end as two writes with no answer between them, so the end waits
//! for the server's delayed acknowledgement: 40 ms per `COPY` on Linux, which would make the bulk
//! path slower than the upsert it replaces. Until sqlx ships the fix, each new connection sets
//! `TCP_NODELAY` on the process's TCP sockets connected to the database's port (its own among
//! them; on any other socket to that port the option only lowers latency). The sockets are
//! reached through a duplicate of their descriptor (`pidfd_getfd`, Linux 5.6+), so no unsafe code
//! is needed. Elsewhere, or when the kernel refuses, it reports `false` and the writer keeps to
//! upserts. Public for the process's other sqlx connections that send `COPY` (the benchmarks'
//! bulk-load ceilings), which need the same workaround.

/// Sets `TCP_NODELAY` on every TCP socket of this process whose peer port is `port`. Returns
/// whether at least one was found and set.
#[cfg(target_os = "linux")]
pub fn set_for_peer_port(port: u16) -> bool {
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
    let Ok(pidfd) = pidfd_open(getpid(), PidfdFlags::empty()) else { return false };
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { return false };
    let mut set = false;
    for entry in entries.flatten() {
        let is_socket = std::fs::read_link(entry.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:"));
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()).filter(|_| is_socket) else {
            continue;
        };
        let Ok(socket) = pidfd_getfd(&pidfd, fd, PidfdGetfdFlags::empty()) else { continue };
        let peer_port = match rustix::net::getpeername(&socket) {
            Ok(Some(addr)) => std::net::SocketAddr::try_from(addr).ok().map(|a| a.port()),
            _ => None,
        };
        if peer_port == Some(port) {
            set |= rustix::net::sockopt::set_tcp_nodelay(&socket, true).is_ok();
        }
    }
    set
}

/// Not Linux: nothing is set.
#[cfg(not(target_os = "linux"))]
pub fn set_for_peer_port(_port: u16) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn sets_nodelay_on_the_sockets_to_the_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let theirs = std::net::TcpStream::connect(other.local_addr().unwrap()).unwrap();
        assert!(!ours.nodelay().unwrap(), "Nagle's algorithm is on by default");
        assert!(super::set_for_peer_port(listener.local_addr().unwrap().port()));
        assert!(ours.nodelay().unwrap());
        assert!(!theirs.nodelay().unwrap(), "a socket to another port is left alone");
    }
}
