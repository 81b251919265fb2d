//! What can be tested of the container files without a Docker engine: the
//! configurations they ship are valid, and the binary serves port 53 as an
//! unprivileged user with only CAP_NET_BIND_SERVICE, as the image runs it.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use hickory_proto::rr::RecordType;

use crate::FAB1;
use crate::client::{self, a_records};
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

#[test]
fn port_53_as_an_unprivileged_user_with_the_bind_capability() {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout == b"0\n");
    let have_tools = Command::new("setcap").arg("-v").output().is_ok()
        && Command::new("setpriv").arg("--version").output().is_ok();
    if !is_root || !have_tools {
        eprintln!("skipped: needs root, setcap and setpriv to drop to an unprivileged user");
        return;
    }
    // A copy with the file capability, as the image's runtime stage makes it.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("privatelink-dns");
    std::fs::copy(binary(), &copy).unwrap();
    let status = Command::new("setcap")
        .arg("cap_net_bind_service=+ep")
        .arg(&copy)
        .status()
        .unwrap();
    if !status.success() {
        eprintln!("skipped: this filesystem does not keep file capabilities");
        return;
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().join("privatelink-dns.toml");
    std::fs::write(
        &config,
        std::fs::read_to_string(format!(
            "{}/../../config/privatelink-dns.toml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();

    let server = TestServer::spawn(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&copy)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .args(["--listen", "127.0.53.53:53"]),
        dir,
        config.clone(),
    );
    assert_eq!(server.addr.port(), 53);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line
            .split_whitespace()
            .skip(1)
            .all(|uid| uid == "65534"),
        "{uid_line}"
    );
    let response = client::udp(server.addr, &client::query(FAB1, RecordType::A));
    assert_eq!(a_records(&response), ["10.10.0.4"]);
}
