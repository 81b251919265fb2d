//! Real DNS software beside the server under test: BIND, Unbound and Knot
//! DNS processes on loopback ports, configured by the test, and the stub
//! clients dig, kdig and glibc's resolver. `.ci/run` installs them; where a
//! program is missing, its test says so and skips.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::client;

/// True when `program` is on the PATH.
pub fn on_path(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// True when `program` can be run; otherwise says which test skips and why.
pub fn installed(program: &str, package: &str) -> bool {
    installed_by(program, &format!("apt-get install {package}"))
}

/// `installed` for a tool that comes from elsewhere than Debian's archive.
pub fn installed_by(program: &str, install: &str) -> bool {
    let found = on_path(program);
    if !found {
        eprintln!("skipped: {program} is not installed ({install})");
    }
    found
}

/// True when this process may create network namespaces (root, `ip`).
pub fn can_make_namespaces() -> bool {
    if !installed("ip", "iproute2") {
        return false;
    }
    let probe = format!("plt-probe-{}", std::process::id());
    let made = Command::new("ip")
        .args(["netns", "add", &probe])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if made {
        let _ = Command::new("ip").args(["netns", "del", &probe]).status();
    } else {
        eprintln!("skipped: cannot create a network namespace (needs root)");
    }
    made
}

/// A loopback port free for both UDP and TCP right now.
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = udp.local_addr().expect("addr").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port");
}

/// A running peer process, killed when dropped.
pub struct Peer {
    name: &'static str,
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Peer {
    /// Starts `program args…` (its output to a log file in `dir`) and waits
    /// until it answers `probe` on `port` over UDP with any rcode.
    pub fn start(
        name: &'static str,
        dir: tempfile::TempDir,
        port: u16,
        command: &mut Command,
        probe: &str,
    ) -> Self {
        let log = dir.path().join(format!("{name}.log"));
        let output = std::fs::File::create(&log).expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("log"))
            .stderr(output)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
        let mut peer = Self {
            name,
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            _dir: dir,
        };
        peer.wait_answering(probe);
        peer
    }

    fn wait_answering(&mut self, probe: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let wire = client::query(probe, RecordType::SOA)
            .to_vec()
            .expect("encode");
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}):\n{}", self.name, self.log_text());
            }
            if client::udp_bytes(self.addr, &wire, Duration::from_millis(200)).is_some() {
                return;
            }
        }
        panic!("{} did not answer:\n{}", self.name, self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asks the peer over UDP.
    pub fn ask(&self, name: &str, rtype: RecordType) -> Message {
        client::udp(self.addr, &client::query(name, rtype))
    }

    /// Asks until `done` holds for the answer (a secondary refreshing, a
    /// forwarder's cache expiring), for at most `timeout`.
    pub fn ask_until(
        &self,
        name: &str,
        rtype: RecordType,
        timeout: Duration,
        done: impl Fn(&Message) -> bool,
    ) -> Message {
        let deadline = Instant::now() + timeout;
        loop {
            let answer = self.ask(name, rtype);
            if done(&answer) {
                return answer;
            }
            assert!(
                Instant::now() < deadline,
                "{} still answers {answer}\nlog:\n{}",
                self.name,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// BIND 9 as an on-prem resolver: `forward_zones` are forwarded to
/// `server`, everything else to `rest` (so that nothing leaves loopback).
pub fn bind_forwarder(server: SocketAddr, forward_zones: &[&str], rest: SocketAddr) -> Peer {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let forwarders = |to: SocketAddr| format!("{{ {} port {}; }}", to.ip(), to.port());
    let mut conf = format!(
        r#"options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    query-source address 127.0.0.1;
    recursion yes;
    allow-query {{ 127.0.0.0/8; }};
    dnssec-validation no;
    forward only;
    forwarders {rest};
    notify no;
}};
"#,
        dir = dir.path().display(),
        rest = forwarders(rest),
    );
    for zone in forward_zones {
        conf.push_str(&format!(
            "zone \"{zone}\" {{ type forward; forward only; forwarders {}; }};\n",
            forwarders(server)
        ));
    }
    start_named(
        dir,
        port,
        &conf,
        forward_zones.first().copied().unwrap_or("."),
    )
}

/// BIND 9 as a secondary of `zones` on `port`, pulling them from `primary`.
pub fn bind_secondary(port: u16, primary: SocketAddr, zones: &[&str]) -> Peer {
    bind_secondary_from(port, primary, zones, "127.0.0.1")
}

/// [`bind_secondary`] transferring from the loopback address `source`
/// (which picks the primary's view).
pub fn bind_secondary_from(port: u16, primary: SocketAddr, zones: &[&str], source: &str) -> Peer {
    bind_secondary_of(port, &[primary], zones, source)
}

/// BIND 9 as a secondary of `zones` listing every one of `primaries`
/// (replicas of one primary), in that order.
pub fn bind_secondary_of(
    port: u16,
    primaries: &[SocketAddr],
    zones: &[&str],
    source: &str,
) -> Peer {
    let options = format!(
        "transfer-source {source};\n    notify-source 127.0.0.1;\n    allow-query {{ 127.0.0.0/8; }};\n    allow-notify {{ 127.0.0.0/8; }};"
    );
    let primaries: String = primaries
        .iter()
        .map(|p| format!("{} port {}; ", p.ip(), p.port()))
        .collect();
    let zone_statements: String = zones
        .iter()
        .map(|zone| {
            format!(
                "zone \"{zone}\" {{ type secondary; file \"{zone}.db\"; primaries {{ {primaries}}}; }};\n"
            )
        })
        .collect();
    named(
        port,
        zones.first().copied().unwrap_or("."),
        &options,
        &zone_statements,
    )
}

/// BIND 9 on `port` as the tests run it: its own directory, a loopback
/// listener, no recursion, no validation and no NOTIFY of its own, with
/// `options` added to the options block; then `rest` (zones, keys,
/// servers). Ready once it answers `probe`.
pub fn named(port: u16, probe: &str, options: &str, rest: &str) -> Peer {
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = format!(
        r#"options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    {options}
}};
{rest}"#,
        dir = dir.path().display()
    );
    start_named(dir, port, &conf, probe)
}

/// Runs `named` in the foreground on `conf`, written into `dir`.
fn start_named(dir: tempfile::TempDir, port: u16, conf: &str, probe: &str) -> Peer {
    let conf_path = write(dir.path(), "named.conf", conf);
    Peer::start(
        "named",
        dir,
        port,
        Command::new("named")
            .args(["-g", "-4", "-n", "1", "-c"])
            .arg(conf_path),
        probe,
    )
}

/// Unbound as an on-prem resolver, forwarding like [`bind_forwarder`].
pub fn unbound_forwarder(server: SocketAddr, forward_zones: &[&str], rest: SocketAddr) -> Peer {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut conf = format!(
        r#"server:
    interface: 127.0.0.1@{port}
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    module-config: "iterator"
remote-control:
    control-enable: no
forward-zone:
    name: "."
    forward-addr: {rest_ip}@{rest_port}
"#,
        dir = dir.path().display(),
        rest_ip = rest.ip(),
        rest_port = rest.port(),
    );
    for zone in forward_zones {
        conf.push_str(&format!(
            "forward-zone:\n    name: \"{zone}.\"\n    forward-addr: {}@{}\n",
            server.ip(),
            server.port()
        ));
    }
    let conf_path = write(dir.path(), "unbound.conf", &conf);
    Peer::start(
        "unbound",
        dir,
        port,
        Command::new("unbound").args(["-d", "-c"]).arg(conf_path),
        forward_zones.first().copied().unwrap_or("."),
    )
}

/// Knot DNS serving `zone` (an apex with a trailing dot) with `records`
/// (zone-file lines relative to it), for comparing answers.
pub fn knot_authoritative(zone: &str, records: &str) -> Peer {
    let port = free_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let dir_path = &dir.path().display().to_string();
    let zone_file = write(
        dir.path(),
        "zone.zone",
        &format!(
            "$ORIGIN {zone}\n@ 3600 SOA ns1.test.internal. hostmaster.test.internal. 1 3600 300 2419200 10\n@ 3600 NS ns1.test.internal.\n{records}\n"
        ),
    );
    let zone_section = format!(
        "zone:\n  - domain: {zone}\n    file: {file}\n",
        file = zone_file.display(),
    );
    start_knot(dir, port, &knot_conf(port, dir_path, &zone_section), zone)
}

/// Knot DNS as a secondary of `zones` on `port`, pulling them from
/// `primary` and accepting its NOTIFY.
pub fn knot_secondary(port: u16, primary: SocketAddr, zones: &[&str]) -> Peer {
    knot_secondary_from(port, primary, zones, "127.0.0.1")
}

/// [`knot_secondary`] transferring from the loopback address `source`
/// (which picks the primary's view).
pub fn knot_secondary_from(port: u16, primary: SocketAddr, zones: &[&str], source: &str) -> Peer {
    knot_secondary_of(port, &[primary], zones, source)
}

/// Knot DNS as a secondary of `zones` listing every one of `primaries`
/// (replicas of one primary), in that order.
pub fn knot_secondary_of(
    port: u16,
    primaries: &[SocketAddr],
    zones: &[&str],
    source: &str,
) -> Peer {
    let primary_ids: Vec<String> = (0..primaries.len())
        .map(|i| format!("primary{i}"))
        .collect();
    let mut notifiers: Vec<String> = primaries.iter().map(|p| p.ip().to_string()).collect();
    notifiers.dedup();
    knot(port, zones.first().copied().unwrap_or("."), |dir| {
        let mut sections = String::from("remote:\n");
        for (id, primary) in primary_ids.iter().zip(primaries) {
            sections.push_str(&format!(
                "  - id: {id}\n    address: {}@{}\n    via: {source}\n",
                primary.ip(),
                primary.port()
            ));
        }
        sections.push_str(&format!(
            "acl:\n  - id: notify_from_primary\n    address: [{}]\n    action: notify\n{}zone:\n",
            notifiers.join(", "),
            knot_default_template(dir),
        ));
        for zone in zones {
            sections.push_str(&format!(
                "  - domain: {zone}\n    master: [{}]\n    acl: notify_from_primary\n",
                primary_ids.join(", ")
            ));
        }
        sections
    })
}

/// Knot DNS on `port` as the tests run it: a loopback listener, its own
/// directory, logging to the peer's log; `sections(dir)` gives the rest
/// (key, remote, acl, template, zone). Ready once it answers `probe`.
pub fn knot(port: u16, probe: &str, sections: impl FnOnce(&str) -> String) -> Peer {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().display().to_string();
    let conf = knot_conf(port, &path, &sections(&path));
    start_knot(dir, port, &conf, probe)
}

/// A `template` section whose default keeps zones in memory only: the
/// tests' secondaries start empty each time.
pub fn knot_default_template(dir: &str) -> String {
    format!(
        "template:\n  - id: default\n    storage: {dir}\n    zonefile-sync: -1\n    journal-content: none\n"
    )
}

fn knot_conf(port: u16, dir: &str, sections: &str) -> String {
    format!(
        "server:\n    listen: 127.0.0.1@{port}\n    rundir: {dir}\n    user: root:root\ndatabase:\n    storage: {dir}\nlog:\n  - target: stderr\n    any: info\n{sections}"
    )
}

/// Starts knotd on `conf` (written into `dir`), ready once it answers `probe`.
fn start_knot(dir: tempfile::TempDir, port: u16, conf: &str, probe: &str) -> Peer {
    let conf_path = write(dir.path(), "knot.conf", conf);
    Peer::start(
        "knotd",
        dir,
        port,
        Command::new("knotd").arg("-c").arg(conf_path),
        probe,
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

/// The rcode and the A addresses of an answer, sorted: BIND rotates the
/// order of an RRset from answer to answer.
pub fn summary(message: &Message) -> (ResponseCode, Vec<String>) {
    let mut addresses = client::a_records(message);
    addresses.sort();
    (message.metadata.response_code, addresses)
}

/// Runs a stub client; returns its standard output.
pub fn run_client(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
