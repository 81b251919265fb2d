//! The runtime image, built offline by `docker/build-image.sh` (buildah,
//! FROM scratch): its configuration is the pod's, and its root filesystem
//! alone runs the server — the binary finds its loader and libraries,
//! runs as uid 10053 with no capability, and answers on port 53 in a
//! network namespace opened by the pod's sysctl. (`buildah run` needs a
//! container runtime this sandbox cannot start; the image's root is
//! entered with chroot instead, with the image's entrypoint and command.)

use std::process::Command;

use crate::FAB1;
use crate::container::{ask_port_53_in_netns_of, is_root_with, shipped_pod_security};
use crate::harness::{TestServer, output_of, repo};

fn buildah(args: &[&str]) -> String {
    output_of(Command::new("buildah").args(args))
        .trim()
        .to_owned()
}

/// Removes the working container and the image, whatever the test's outcome.
struct Cleanup {
    container: Option<String>,
    tag: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(container) = &self.container {
            let _ = Command::new("buildah").args(["rm", container]).output();
        }
        let _ = Command::new("buildah").args(["rmi", &self.tag]).output();
    }
}

#[test]
fn the_image_built_by_buildah_serves_port_53_as_the_pod_runs_it() {
    if !is_root_with(&["buildah", "unshare", "chroot", "nsenter", "ip", "python3"]) {
        eprintln!("skipped: needs root, buildah, unshare, chroot, nsenter, ip and python3");
        return;
    }
    let tag = format!("localhost/privatelink-dns:e2e-{}", std::process::id());
    let mut cleanup = Cleanup {
        container: None,
        tag: tag.clone(),
    };
    output_of(
        Command::new(repo().join("docker/build-image.sh"))
            .arg(&tag)
            .env("CARGO_TARGET_DIR", repo().join("target/package")),
    );

    // The image's configuration: the pod's user, the entrypoint and command.
    let config: serde_json::Value =
        serde_json::from_str(&buildah(&["inspect", "--type", "image", &tag])).unwrap();
    let image = &config["OCIv1"]["config"];
    let pod = shipped_pod_security();
    assert_eq!(image["User"], format!("{0}:{0}", pod.uid));
    let mut argv: Vec<String> = Vec::new();
    for part in ["Entrypoint", "Cmd"] {
        for arg in image[part].as_array().unwrap() {
            argv.push(arg.as_str().unwrap().to_owned());
        }
    }
    assert_eq!(argv[0], "/usr/local/bin/privatelink-dns");
    assert!(
        argv.windows(2).any(|w| w == ["--listen", "0.0.0.0:53"]),
        "{argv:?}"
    );

    // Its root filesystem, mounted; nothing from the host is visible inside.
    let container = buildah(&["from", &tag]);
    cleanup.container = Some(container.clone());
    let root = buildah(&["mount", &container]);
    let script = format!(
        "ip link set lo up && sysctl -qw net.ipv4.ip_unprivileged_port_start={port} && \
         exec chroot --userspec={uid}:{uid} {root} \"$@\"",
        port = pod.unprivileged_port_start,
        uid = pod.uid,
    );
    let dir = tempfile::tempdir().unwrap();
    let config_in_image =
        std::path::Path::new(&root).join("etc/privatelink-dns/privatelink-dns.toml");
    let mut command = Command::new("unshare");
    command
        .args(["--net", "--", "sh", "-c", &script, "sh"])
        .args(&argv);
    let server = TestServer::spawn(&mut command, dir, config_in_image);
    assert_eq!(server.addr.port(), 53);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    for (key, want) in [("Uid:", pod.uid.as_str()), ("CapEff:", "0000000000000000")] {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        assert_eq!(line.split_whitespace().nth(1), Some(want), "{line}");
    }
    assert_eq!(ask_port_53_in_netns_of(server.pid(), FAB1), "0 1 10.10.0.4");
}
