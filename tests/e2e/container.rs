//! What can be tested of the container files without a Docker engine: the
//! configurations they ship are valid, and the binary serves port 53 as an
//! unprivileged user with no capability at all, exactly as the shipped pod
//! runs it (network namespace, sysctl, empty bounding set).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::FAB1;
use crate::harness::{TestServer, binary, run, temp_file};

fn docker(path: &str) -> String {
    format!("{}/../../docker/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_lab_and_kubernetes_mappings_are_valid() {
    let (code, stdout, _) = run(&[
        "check",
        "--strict",
        "--config",
        &docker("lab/privatelink-dns.toml"),
    ]);
    assert_eq!(code, 0, "{stdout}");

    // The ConfigMap's file, taken out of its YAML block.
    let yaml = std::fs::read_to_string(docker("kubernetes/configmap.yaml")).unwrap();
    let block: String = yaml
        .split_once("privatelink-dns.toml: |\n")
        .unwrap()
        .1
        .lines()
        .take_while(|line| line.starts_with("    ") || line.is_empty())
        .map(|line| format!("{}\n", line.strip_prefix("    ").unwrap_or(line)))
        .collect();
    let (_dir, path) = temp_file("configmap.toml", &block);
    let (code, stdout, _) = run(&["check", "--strict", "--config", &path.display().to_string()]);
    assert_eq!(code, 0, "{stdout}\n{block}");
    assert!(
        block.contains("listen = [\"0.0.0.0:53\"]") && block.contains("http = \"0.0.0.0:9153\"")
    );

    // The Dockerfile runs what it says.
    let dockerfile = std::fs::read_to_string(docker("Dockerfile")).unwrap();
    assert!(dockerfile.contains("cargo build --release --locked --bin privatelink-dns"));
    assert!(dockerfile.contains("USER 10053:10053"));
    assert!(dockerfile.contains("\"--listen\", \"0.0.0.0:53\", \"--http\", \"0.0.0.0:9153\""));
}

fn is_root_with(tools: &[&str]) -> bool {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout == b"0\n");
    is_root
        && tools.iter().all(|tool| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// A directory a dropped user can read, holding a copy of the binary and
/// the shipped example mapping.
fn world_readable_copy() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("privatelink-dns");
    std::fs::copy(binary(), &copy).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().join("privatelink-dns.toml");
    std::fs::write(
        &config,
        std::fs::read_to_string(crate::harness::example_path()).unwrap(),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    (dir, copy, config)
}

/// The security settings the shipped Deployment gives the container.
struct PodSecurity {
    uid: String,
    drops_all: bool,
    no_escalation: bool,
    unprivileged_port_start: String,
}

fn shipped_pod_security() -> PodSecurity {
    let yaml = std::fs::read_to_string(docker("kubernetes/deployment.yaml")).unwrap();
    let after = |key: &str| -> String {
        let at = yaml
            .find(key)
            .unwrap_or_else(|| panic!("{key} not in deployment.yaml"));
        yaml[at + key.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .trim_matches('"')
            .to_owned()
    };
    PodSecurity {
        uid: after("runAsUser:"),
        drops_all: yaml.contains("drop: [\"ALL\"]"),
        no_escalation: after("allowPrivilegeEscalation:") == "false",
        unprivileged_port_start: {
            let at = yaml.find("net.ipv4.ip_unprivileged_port_start").unwrap();
            yaml[at..]
                .split_once("value:")
                .unwrap()
                .1
                .split_whitespace()
                .next()
                .unwrap()
                .trim_matches('"')
                .to_owned()
        },
    }
}

/// A DNS client run inside another network namespace (`nsenter`): the
/// address of the first A record of `name`, asked at 127.0.0.1:53.
const NETNS_CLIENT: &str = r#"
import socket, struct, sys
name = sys.argv[1]
q = struct.pack(">HHHHHH", 0x5353, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, ("127.0.0.1", 53))
r = s.recv(4096)
rcode = r[3] & 15
ancount = struct.unpack(">H", r[6:8])[0]
print(rcode, ancount, ".".join(str(b) for b in r[-4:]))
"#;

/// The image's binary run exactly as the shipped Deployment runs it: the
/// pod's user, every capability dropped from the bounding set, no new
/// privileges, port 53 opened by the pod's `ip_unprivileged_port_start`
/// sysctl in a network namespace of its own — and an answer on port 53.
#[test]
fn the_binary_serves_port_53_as_the_shipped_pod_runs_it() {
    if !is_root_with(&["unshare", "setpriv", "nsenter", "ip", "python3"]) {
        eprintln!("skipped: needs root, unshare, setpriv, nsenter, ip and python3");
        return;
    }
    let pod = shipped_pod_security();
    assert_eq!(pod.uid, "10053");
    assert!(
        pod.drops_all && pod.no_escalation,
        "the Deployment must drop ALL and forbid escalation"
    );
    // The combination that ships: no file capability on the binary (with
    // every capability dropped the kernel refuses to execute such a file),
    // the port opened by the sysctl instead.
    let dockerfile = std::fs::read_to_string(docker("Dockerfile")).unwrap();
    assert!(
        !dockerfile
            .lines()
            .any(|l| !l.trim_start().starts_with('#') && l.contains("setcap")),
        "the image must not give the binary a file capability"
    );

    let (dir, copy, config) = world_readable_copy();
    let script = format!(
        "ip link set lo up && sysctl -qw net.ipv4.ip_unprivileged_port_start={port} && exec setpriv \
         --reuid={uid} --regid={uid} --clear-groups --inh-caps=-all --ambient-caps=-all \
         --bounding-set=-all --no-new-privs {bin} serve --config {cfg} --listen 127.0.0.1:53",
        port = pod.unprivileged_port_start,
        uid = pod.uid,
        bin = copy.display(),
        cfg = config.display(),
    );
    let server = TestServer::spawn(
        Command::new("unshare").args(["--net", "--", "sh", "-c", &script]),
        dir,
        config.clone(),
    );
    assert_eq!(server.addr.port(), 53);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let line = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} in {status}"))
            .to_owned()
    };
    assert!(
        line("Uid:")
            .split_whitespace()
            .skip(1)
            .all(|uid| uid == "10053"),
        "{}",
        line("Uid:")
    );
    assert_eq!(
        line("CapBnd:").split_whitespace().nth(1),
        Some("0000000000000000")
    );
    assert_eq!(
        line("CapEff:").split_whitespace().nth(1),
        Some("0000000000000000")
    );
    assert_eq!(line("NoNewPrivs:").split_whitespace().nth(1), Some("1"));

    let name = FAB1.trim_end_matches('.');
    let output = Command::new("nsenter")
        .arg(format!("--net=/proc/{}/ns/net", server.pid()))
        .args(["python3", "-c", NETNS_CLIENT, name])
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        answer.trim(),
        "0 1 10.10.0.4",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Why the image ships no file capability: with the bounding set empty, as
/// `capabilities: drop: ["ALL"]` makes it, the kernel refuses to execute a
/// binary that carries one (the crash loop the old image had).
#[test]
fn a_file_capability_cannot_run_with_every_capability_dropped() {
    if !is_root_with(&["setcap", "setpriv"]) {
        eprintln!("skipped: needs root, setcap and setpriv");
        return;
    }
    let (_dir, copy, _config) = world_readable_copy();
    let status = Command::new("setcap")
        .arg("cap_net_bind_service=+ep")
        .arg(&copy)
        .status()
        .unwrap();
    if !status.success() {
        eprintln!("skipped: this filesystem does not keep file capabilities");
        return;
    }
    let output = Command::new("setpriv")
        .args([
            "--reuid=10053",
            "--regid=10053",
            "--clear-groups",
            "--bounding-set=-all",
            "--no-new-privs",
        ])
        .arg(&copy)
        .arg("--version")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Operation not permitted"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
