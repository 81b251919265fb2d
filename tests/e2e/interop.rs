//! With the DNS servers around it: BIND and Unbound as on-prem conditional
//! forwarders, Knot DNS and BIND as secondaries pulling the zones, dig, kdig
//! and glibc as stub clients, two replicas on one file. Real processes on
//! loopback (or in a network namespace the test makes), configured here.

use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::chain::azure_public_dns;
use crate::client::{self, a_records};
use crate::fake_upstream::FakeUpstream;
use crate::harness::TestServer;
use crate::peer::{self, Peer, installed, summary};
use crate::{FAB1, base_config};

const ECS_PUBLIC: &str = "weacct01pod01ecs114.blob.core.windows.net.";
const ECS_QUEUE: &str = "weacct01pod01ecs114.privatelink.queue.core.windows.net.";
const BLOB: &str = "privatelink.blob.core.windows.net";
const BACKUP_WE: &str = "privatelink.we.backup.windowsazure.com";

/// The public DNS as Azure's resolver sees it (storage accounts CNAME into
/// privatelink, then to the public cluster), and one name outside Azure.
fn public_dns() -> FakeUpstream {
    FakeUpstream::answering(azure_public_dns().a("www.example.com.", "192.0.2.80", 300))
}

/// The zones an on-prem DNS forwards to privatelink-dns (issue: BIND
/// conditional forwarders for privatelink, the public storage zone and Backup).
const FORWARDED_ZONES: [&str; 3] = [BLOB, "blob.core.windows.net", BACKUP_WE];

/// What a client behind an on-prem forwarder must see.
fn assert_private_answers_through(forwarder: &Peer, upstream: &FakeUpstream) {
    let fab1 = forwarder.ask(FAB1, RecordType::A);
    assert_eq!(
        summary(&fab1),
        (ResponseCode::NoError, vec!["10.10.0.4".into()]),
        "{fab1}"
    );

    // The public storage name ends in the private IP: chain completion.
    let public = forwarder.ask(ECS_PUBLIC, RecordType::A);
    assert_eq!(
        public.metadata.response_code,
        ResponseCode::NoError,
        "{public}"
    );
    assert_eq!(a_records(&public), ["10.10.0.12"], "{public}");
    assert!(
        public
            .answers
            .iter()
            .all(|r| !r.to_string().contains("store.core.windows.net")
                && !r.to_string().contains("20.60.1.1")),
        "the public tail must not reach the client: {public}"
    );

    let missing = forwarder.ask("nosuch.privatelink.blob.core.windows.net.", RecordType::A);
    assert_eq!(
        missing.metadata.response_code,
        ResponseCode::NXDomain,
        "{missing}"
    );

    // Names outside the forwarded zones never reach privatelink-dns.
    let before = upstream.queries();
    let other = forwarder.ask("www.example.com.", RecordType::A);
    assert_eq!(a_records(&other), ["192.0.2.80"]);
    assert!(
        upstream.queries() > before,
        "answered by the forwarder's own upstream"
    );
}

#[test]
fn bind_as_an_on_prem_conditional_forwarder_gets_the_private_answers() {
    if !installed("named", "bind9") {
        return;
    }
    let upstream = public_dns();
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let bind = peer::bind_forwarder(server.addr, &FORWARDED_ZONES, upstream.addr);
    assert_private_answers_through(&bind, &upstream);
}

#[test]
fn unbound_as_an_on_prem_conditional_forwarder_gets_the_private_answers() {
    if !installed("unbound", "unbound") {
        return;
    }
    let upstream = public_dns();
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let unbound = peer::unbound_forwarder(server.addr, &FORWARDED_ZONES, upstream.addr);
    assert_private_answers_through(&unbound, &upstream);
}

/// `base_config` with transfers to loopback; NOTIFY to `secondary`.
fn primary_config(upstream: &FakeUpstream, secondary_port: u16) -> String {
    base_config(&[upstream.addr]).replace(
        "[server]",
        &format!(
            "[server]\nallow_transfer = [\"127.0.0.1\"]\nnotify = [\"127.0.0.1:{secondary_port}\"]"
        ),
    )
}

/// A secondary holds the same records as the primary, and after an edit and
/// a reload (NOTIFY, then a transfer) the new ones.
fn assert_secondary_follows(server: &TestServer, secondary: &Peer, config: &str) {
    let same = |name: &str| {
        let ours = client::udp(server.addr, &client::query(name, RecordType::A));
        let theirs = secondary.ask_until(name, RecordType::A, Duration::from_secs(20), |m| {
            m.metadata.response_code != ResponseCode::ServFail
        });
        assert_eq!(summary(&theirs), summary(&ours), "{name}: {theirs}");
        assert!(theirs.metadata.authoritative, "{theirs}");
    };
    same(FAB1);
    same("1132794570626989392-ab-pod01-rec2.privatelink.we.backup.windowsazure.com.");
    same("multi.privatelink.blob.core.windows.net.");
    same("weacct01pod01ecs114.privatelink.blob.core.windows.net.");
    same("nosuch.privatelink.blob.core.windows.net.");
    let serial = |answer: hickory_proto::op::Message| client::soa_serial(&answer);
    let ours = serial(client::udp(
        server.addr,
        &client::query(&format!("{BLOB}."), RecordType::SOA),
    ));
    assert_eq!(
        serial(secondary.ask(&format!("{BLOB}."), RecordType::SOA)),
        ours
    );

    // An edit: a new IP for one blob name, a new name. The secondary gets
    // NOTIFY and transfers the zone again; its refresh timer (an hour) would
    // be far too late.
    let edited = config.replace("\"10.10.0.32\"", "\"10.10.0.99\"").replace(
        "[records]",
        "[records]\n\"added.privatelink.blob.core.windows.net\" = \"10.10.0.77\"",
    );
    std::fs::write(server.config(), edited).unwrap();
    server.signal("HUP");
    server.wait_for_log("serials_changed=1", Duration::from_secs(5));
    let started = Instant::now();
    let added = secondary.ask_until(
        "added.privatelink.blob.core.windows.net.",
        RecordType::A,
        Duration::from_secs(20),
        |m| a_records(m) == ["10.10.0.77"],
    );
    assert!(added.metadata.authoritative);
    let changed = secondary.ask("app.deep.privatelink.blob.core.windows.net.", RecordType::A);
    assert_eq!(a_records(&changed), ["10.10.0.99"]);
    eprintln!("secondary updated {:?} after the reload", started.elapsed());
    let newer = serial(secondary.ask(&format!("{BLOB}."), RecordType::SOA));
    assert!(newer > ours, "serial {newer} after {ours}");
    // The unchanged zone kept its serial.
    assert_eq!(
        serial(secondary.ask(&format!("{BACKUP_WE}."), RecordType::SOA)),
        serial(client::udp(
            server.addr,
            &client::query(&format!("{BACKUP_WE}."), RecordType::SOA),
        ))
    );
}

/// A primary with transfers and NOTIFY to the secondary `start` brings up.
fn secondary_follows(start: impl FnOnce(u16, std::net::SocketAddr) -> Peer) {
    let upstream = public_dns();
    let secondary_port = peer::free_port();
    let config = primary_config(&upstream, secondary_port);
    let server = TestServer::start(&config);
    let secondary = start(secondary_port, server.addr);
    assert_secondary_follows(&server, &secondary, &config);
}

#[test]
fn a_knot_secondary_transfers_the_zones_and_follows_a_reload() {
    if installed("knotd", "knot") {
        secondary_follows(|port, primary| peer::knot_secondary(port, primary, &[BLOB, BACKUP_WE]));
    }
}

#[test]
fn a_bind_secondary_transfers_the_zones_and_follows_a_reload() {
    if installed("named", "bind9") {
        secondary_follows(|port, primary| peer::bind_secondary(port, primary, &[BLOB, BACKUP_WE]));
    }
}

#[test]
fn dig_and_kdig_resolve_mapped_names_over_udp_and_tcp() {
    let upstream = public_dns();
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let (ip, port) = (server.addr.ip().to_string(), server.addr.port().to_string());
    let mut clients = 0;
    if installed("dig", "bind9-dnsutils") {
        for transport in ["+notcp", "+tcp"] {
            let at = format!("@{ip}");
            let out = peer::run_client("dig", &[&at, "-p", &port, transport, "+norec", FAB1, "A"]);
            assert!(out.contains("status: NOERROR"), "{out}");
            assert!(out.contains("flags: qr aa"), "AA, RD clear as asked: {out}");
            let answer = [FAB1, "10", "IN", "A", "10.10.0.4"];
            assert!(
                out.lines()
                    .any(|line| line.split_whitespace().eq(answer.iter().copied())),
                "{out}"
            );
            let proto = if transport == "+tcp" {
                "(TCP)"
            } else {
                "(UDP)"
            };
            assert!(out.contains(proto), "{out}");

            let short =
                peer::run_client("dig", &[&at, "-p", &port, transport, "+short", ECS_QUEUE]);
            assert_eq!(short.trim(), "10.10.0.13");
        }
        clients += 1;
    }
    if installed("kdig", "knot-dnsutils") {
        for transport in ["+notcp", "+tcp"] {
            let at = format!("@{ip}");
            let out = peer::run_client("kdig", &[&at, "-p", &port, transport, FAB1, "A"]);
            assert!(out.contains("status: NOERROR"), "{out}");
            assert!(out.contains("Flags: qr aa rd ra"), "{out}");
            assert!(out.contains("10.10.0.4"), "{out}");
            let proto = if transport == "+tcp" { "TCP" } else { "UDP" };
            assert!(out.contains(&format!("({proto})")), "{out}");
            let missing = peer::run_client(
                "kdig",
                &[
                    &at,
                    "-p",
                    &port,
                    transport,
                    "nosuch.privatelink.blob.core.windows.net",
                    "A",
                ],
            );
            assert!(missing.contains("status: NXDOMAIN"), "{missing}");
            assert!(
                missing.contains(
                    "azureprivatedns.net. azureprivatedns-host.microsoft.com. 1 3600 300 2419200 10"
                ),
                "the zone SOA in authority: {missing}"
            );
        }
        clients += 1;
    }
    if clients == 0 {
        eprintln!("skipped: neither dig nor kdig is installed");
    }
}

/// A network namespace with its own loopback and `/etc/netns/NAME/resolv.conf`,
/// which `ip netns exec` puts in place of `/etc/resolv.conf`. Removed when dropped.
struct Namespace {
    name: String,
}

impl Namespace {
    fn new(resolv_conf: &str) -> Self {
        let name = format!("plt-{}", std::process::id());
        let ip = |args: &[&str]| {
            let status = Command::new("ip").args(args).status().expect("ip");
            assert!(status.success(), "ip {args:?}");
        };
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        ip(&["netns", "add", &name]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        let etc = format!("/etc/netns/{name}");
        std::fs::create_dir_all(&etc).expect("/etc/netns");
        std::fs::write(format!("{etc}/resolv.conf"), resolv_conf).expect("resolv.conf");
        Self { name }
    }

    fn set_resolv_conf(&self, resolv_conf: &str) {
        std::fs::write(format!("/etc/netns/{}/resolv.conf", self.name), resolv_conf)
            .expect("resolv.conf");
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.name));
    }
}

#[test]
fn glibc_resolves_mapped_names_over_udp_and_tcp_in_a_network_namespace() {
    if !peer::can_make_namespaces() {
        return;
    }
    // glibc asks port 53 only: the server listens there in a namespace of
    // its own, and the stub runs in it too.
    let namespace = Namespace::new("nameserver 127.0.0.1\noptions timeout:2 attempts:2\n");
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("privatelink-dns.toml");
    std::fs::write(&config_path, base_config(&[])).unwrap();
    let mut serve = namespace.command(crate::harness::binary());
    serve
        .arg("serve")
        .arg("--config")
        .arg(&config_path)
        .args(["--listen", "127.0.0.1:53"]);
    let _server = TestServer::spawn(&mut serve, dir, config_path);

    // `getent ahosts` resolves as applications do (getaddrinfo, any family;
    // A and AAAA asked, NODATA for AAAA). `ahostsv4` would ask nothing:
    // AI_ADDRCONFIG finds no IPv4 address but loopback in the namespace.
    let getent = |name: &str| {
        let output = namespace
            .command("getent")
            .args(["ahosts", name.trim_end_matches('.')])
            .output()
            .expect("getent");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let mut addresses: Vec<String> = stdout
            .lines()
            .filter(|line| line.contains("STREAM"))
            .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
            .collect();
        addresses.sort();
        (output.status.code(), addresses)
    };
    for resolv_conf in [
        "nameserver 127.0.0.1\noptions timeout:2 attempts:2\n",
        "nameserver 127.0.0.1\noptions use-vc timeout:2 attempts:2\n",
    ] {
        namespace.set_resolv_conf(resolv_conf);
        assert_eq!(
            getent(FAB1),
            (Some(0), vec!["10.10.0.4".to_owned()]),
            "{resolv_conf}"
        );
        assert_eq!(
            getent("multi.privatelink.blob.core.windows.net"),
            (
                Some(0),
                vec!["10.10.0.30".to_owned(), "10.10.0.31".to_owned()]
            ),
            "{resolv_conf}"
        );
        // Offline, the public storage name still resolves to the private IP.
        assert_eq!(
            getent(ECS_PUBLIC),
            (Some(0), vec!["10.10.0.12".to_owned()]),
            "{resolv_conf}"
        );
        // NXDOMAIN: getent's exit code 2, "not found".
        assert_eq!(
            getent("nosuch.privatelink.blob.core.windows.net"),
            (Some(2), Vec::new())
        );
    }
}

#[test]
fn two_replicas_on_one_file_converge_after_an_edit() {
    let upstream = public_dns();
    let config = base_config(&[upstream.addr]);
    let first = TestServer::start(&config);
    // The second reads the first one's file, as two pods read one ConfigMap.
    let mut second_command = Command::new(crate::harness::binary());
    second_command
        .arg("serve")
        .arg("--config")
        .arg(first.config())
        .args(["--listen", "127.0.0.1:0"]);
    let second = TestServer::spawn(
        &mut second_command,
        tempfile::tempdir().unwrap(),
        first.config().to_path_buf(),
    );
    let answer = |server: &TestServer| {
        a_records(&client::udp(
            server.addr,
            &client::query(FAB1, RecordType::A),
        ))
    };
    assert_eq!(answer(&first), ["10.10.0.4"]);
    assert_eq!(answer(&second), ["10.10.0.4"]);

    // An editor's rename over the file, as for a ConfigMap update.
    let replacement = first.config().with_extension("new");
    std::fs::write(
        &replacement,
        config.replace("fab1 = \"10.10.0.4\"", "fab1 = \"10.10.0.44\""),
    )
    .unwrap();
    std::fs::rename(&replacement, first.config()).unwrap();
    for server in [&first, &second] {
        server.wait_for_log("mapping reloaded", Duration::from_secs(2));
        assert_eq!(answer(server), ["10.10.0.44"]);
    }
    let sha = |server: &TestServer| {
        server
            .log()
            .iter()
            .rev()
            .find(|l| l.contains("mapping reloaded"))
            .and_then(|l| l.split("sha256=").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
    };
    assert_eq!(
        sha(&first),
        sha(&second),
        "both serve the same file version"
    );
    assert!(sha(&first).is_some());
}
