//! What can be tested of the container files without a Docker engine: the
//! configurations they ship are valid, and the binary serves port 53 as an
//! unprivileged user with no capability at all, exactly as the shipped pod
//! runs it (network namespace, sysctl, empty bounding set).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::FAB1;
use crate::harness::{TestServer, binary, output_of, repo, run};
use crate::peer::{installed_by, on_path};

pub(crate) fn docker(path: &str) -> String {
    repo().join("docker").join(path).display().to_string()
}

#[test]
fn the_lab_and_kubernetes_mappings_are_valid() {
    // The lab's, the README's two-VM example (on the VM's own address),
    // and the ConfigMap's files in the Kustomize base and the AKS overlay.
    for mapping in [
        "lab/privatelink-dns.toml",
        "../packaging/examples/hub-vm.toml",
        "kubernetes/base/privatelink-dns.toml",
        "kubernetes/aks/privatelink-dns.toml",
    ] {
        let (code, stdout, _) = run(&["check", "--strict", "--config", &docker(mapping)]);
        assert_eq!(code, 0, "{mapping}: {stdout}");
    }
    // In a pod: every address, the HTTP endpoint for the probes.
    for mapping in [
        "kubernetes/base/privatelink-dns.toml",
        "kubernetes/aks/privatelink-dns.toml",
    ] {
        let text = std::fs::read_to_string(docker(mapping)).unwrap();
        assert!(
            text.contains("listen = [\"0.0.0.0:53\"]") && text.contains("http = \"0.0.0.0:9153\""),
            "{mapping}"
        );
    }

    // The Dockerfile runs what it says.
    let dockerfile = std::fs::read_to_string(docker("Dockerfile")).unwrap();
    assert!(dockerfile.contains("cargo build --release --locked --bin privatelink-dns"));
    assert!(dockerfile.contains("USER 10053:10053"));
    assert!(dockerfile.contains("\"--listen\", \"0.0.0.0:53\", \"--http\", \"0.0.0.0:9153\""));
}

pub(crate) fn is_root_with(tools: &[&str]) -> bool {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout == b"0\n");
    is_root && tools.iter().all(|tool| on_path(tool))
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
pub(crate) struct PodSecurity {
    pub(crate) uid: String,
    pub(crate) drops_all: bool,
    pub(crate) no_escalation: bool,
    pub(crate) unprivileged_port_start: String,
}

pub(crate) fn shipped_pod_security() -> PodSecurity {
    let yaml = std::fs::read_to_string(docker("kubernetes/base/deployment.yaml")).unwrap();
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

    assert_eq!(ask_port_53_in_netns_of(server.pid(), FAB1), "0 1 10.10.0.4");
}

/// `rcode ancount first-address` of an A query for `name` sent to
/// 127.0.0.1:53 inside the network namespace of process `pid`.
pub(crate) fn ask_port_53_in_netns_of(pid: i32, name: &str) -> String {
    let output = Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args(["python3", "-c", NETNS_CLIENT, name.trim_end_matches('.')])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
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

/// `kubectl kustomize` of a directory under docker/kubernetes.
fn render(dir: &str) -> String {
    output_of(Command::new("kubectl").args(["kustomize", &docker(&format!("kubernetes/{dir}"))]))
}

/// The base and the AKS overlay render with Kustomize (kubectl's), the
/// overlay's values land where AKS reads them, and every rendered object
/// passes the Kubernetes schemas.
#[test]
fn the_kubernetes_manifests_render_for_aks_and_match_the_schemas() {
    if !installed_by(
        "kubectl",
        "not in Debian's archive: its own package, for Kustomize",
    ) {
        return;
    }
    let base = render("base");
    let aks = render("aks");
    for needle in [
        "service.beta.kubernetes.io/azure-load-balancer-internal: \"true\"",
        "service.beta.kubernetes.io/azure-load-balancer-ipv4: 10.0.0.53",
        "type: LoadBalancer",
        "externalTrafficPolicy: Local",
        "replicas: 3",
        "image: myregistry.azurecr.io/privatelink-dns:0.1.0",
        "kind: PodDisruptionBudget",
        "topologySpreadConstraints:",
        "net.ipv4.ip_unprivileged_port_start",
        // The overlay's mapping replaced the base's.
        "name = \"rsv-prod-eus\"",
    ] {
        assert!(
            aks.contains(needle),
            "{needle} not in the AKS rendering:\n{aks}"
        );
    }
    assert!(
        !aks.contains("rsv-prod-we"),
        "the base's mapping leaked into the overlay"
    );
    assert!(!base.contains("azure-load-balancer-ipv4"));
    // No hash suffix: the Deployment mounts the ConfigMap the pods reload.
    for rendered in [&base, &aks] {
        assert_eq!(
            rendered.matches("\n  name: privatelink-dns\n").count(),
            4,
            "{rendered}"
        );
        assert!(
            rendered.contains("- configMap:\n          name: privatelink-dns\n"),
            "{rendered}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    for (name, rendered) in [("base.yaml", &base), ("aks.yaml", &aks)] {
        let path = dir.path().join(name);
        std::fs::write(&path, rendered).unwrap();
        validate(&path, 4);
    }
}

/// Every object of `path` passes the Kubernetes schemas (strict: unknown
/// fields fail) of the oldest AKS-supported release and a newer one.
fn validate(path: &std::path::Path, objects: usize) {
    if !installed_by("kubernetes-validate", "pip install kubernetes-validate") {
        return;
    }
    for version in ["1.29.0", "1.33.0"] {
        let output = Command::new("kubernetes-validate")
            .args(["--strict", "-k", version])
            .arg(path)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{} against {version}:\n{report}",
            path.display()
        );
        assert_eq!(
            report.matches(" passed for resource ").count(),
            objects,
            "{report}"
        );
    }
}

/// The base's hand-written objects match the schemas even where no
/// kubectl renders the Kustomizations.
#[test]
fn the_kubernetes_base_objects_match_the_schemas() {
    validate(
        std::path::Path::new(&docker("kubernetes/base/deployment.yaml")),
        1,
    );
    validate(
        std::path::Path::new(&docker("kubernetes/base/service.yaml")),
        2,
    );
}
