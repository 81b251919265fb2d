//! The Debian package, built by `packaging/build-deb.sh` (cargo-deb), as a
//! VM would receive it: its contents, an unpack into an empty root whose
//! installed binary checks the installed configuration, and a full
//! `dpkg -i` with the maintainer scripts in a throwaway copy of this
//! machine (an overlay over `/` in a private mount namespace), after which
//! the system user exists, the unit is enabled and verifies with its
//! manual page installed.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::harness::{output_of, repo};
use crate::peer::{installed, installed_by, on_path};

/// Builds the package once per test run, in its own target directory so
/// the release build never waits on the test build's lock.
fn build_package() -> Option<PathBuf> {
    static PACKAGE: OnceLock<Option<PathBuf>> = OnceLock::new();
    PACKAGE.get_or_init(build).clone()
}

fn build() -> Option<PathBuf> {
    if !installed_by("cargo-deb", "cargo install cargo-deb --locked")
        || !installed("dpkg-deb", "dpkg")
        || !installed("dpkg", "dpkg")
    {
        return None;
    }
    let output = output_of(
        Command::new(repo().join("packaging/build-deb.sh"))
            .env("CARGO_TARGET_DIR", repo().join("target/package")),
    );
    let deb = PathBuf::from(output.lines().last().unwrap_or_default());
    let deb = if deb.is_absolute() {
        deb
    } else {
        repo().join(deb)
    };
    assert!(deb.is_file(), "no package at {}", deb.display());
    Some(deb)
}

#[test]
fn the_debian_package_installs_and_its_binary_checks_the_installed_config() {
    let Some(deb) = build_package() else { return };

    // Contents: what a distribution package of a daemon carries.
    let listing = output_of(Command::new("dpkg-deb").arg("-c").arg(&deb));
    for path in [
        "./usr/bin/privatelink-dns",
        "./etc/privatelink-dns/privatelink-dns.toml",
        "./usr/lib/systemd/system/privatelink-dns.service",
        "./usr/share/doc/privatelink-dns/examples/privatelink-dns.socket",
        "./usr/share/man/man1/privatelink-dns.1.gz",
        "./usr/share/bash-completion/completions/privatelink-dns",
        "./usr/share/zsh/vendor-completions/_privatelink-dns",
        "./usr/share/fish/vendor_completions.d/privatelink-dns.fish",
        "./usr/share/doc/privatelink-dns/copyright",
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(path)),
            "{path} not in the package:\n{listing}"
        );
    }
    let control = output_of(Command::new("dpkg-deb").arg("-I").arg(&deb));
    assert!(control.contains("Depends: adduser"), "{control}");
    assert!(control.contains("conffiles"), "{control}");

    // An empty root: unpack only (configuring would run the postinst, which
    // needs a shell and adduser in that root; the next test runs it). The
    // conffile waits as .dpkg-new until configure renames it; the installed
    // binary checks it there.
    let root = tempfile::tempdir().unwrap();
    let admin = root.path().join("var/lib/dpkg");
    for dir in ["info", "updates", "triggers"] {
        std::fs::create_dir_all(admin.join(dir)).unwrap();
    }
    std::fs::write(admin.join("status"), "").unwrap();
    output_of(
        Command::new("dpkg")
            .arg("--root")
            .arg(root.path())
            .args(["--force-depends", "--unpack"])
            .arg(&deb),
    );
    let conffiles = output_of(
        Command::new("dpkg-query")
            .arg("--root")
            .arg(root.path())
            .args(["-W", "-f", "${Conffiles}", "privatelink-dns"]),
    );
    assert!(
        conffiles.contains("/etc/privatelink-dns/privatelink-dns.toml"),
        "{conffiles:?}"
    );
    let installed = root.path().join("usr/bin/privatelink-dns");
    let config = root
        .path()
        .join("etc/privatelink-dns/privatelink-dns.toml.dpkg-new");
    let check = output_of(
        Command::new(&installed)
            .arg("check")
            .arg("--config")
            .arg(&config),
    );
    assert!(check.contains("13 name(s)"), "{check}");
    // Offline by default: no upstream in the installed configuration.
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.lines().any(|l| l == "upstreams = []"), "{text}");
    let version = output_of(Command::new(&installed).arg("--version"));
    assert!(version.starts_with("privatelink-dns "), "{version}");
}

/// `dpkg -i` with its maintainer scripts, in an overlay over `/` that
/// vanishes with the mount namespace: the real install path of a VM.
#[test]
fn the_debian_package_creates_its_user_and_enables_its_unit() {
    if !installed("unshare", "util-linux")
        || !installed("chroot", "coreutils")
        || !installed("adduser", "adduser")
    {
        return;
    }
    let Some(deb) = build_package() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let script = r#"
set -eu
s="$1"; deb="$2"
mount -t tmpfs tmpfs "$s"
mkdir -p "$s/upper" "$s/work" "$s/root"
mount -t overlay overlay -o lowerdir=/,upperdir="$s/upper",workdir="$s/work" "$s/root"
mount --bind /proc "$s/root/proc"
mount --bind /dev "$s/root/dev"
cp "$deb" "$s/root/tmp/package.deb"
chroot "$s/root" sh -c '
  set -eu
  dpkg --purge privatelink-dns >/dev/null 2>&1 || true
  dpkg -i /tmp/package.deb >/dev/null
  echo "user: $(getent passwd privatelink-dns | cut -d: -f1,7)"
  echo "config: $(stat -c "%U:%G %a" /etc/privatelink-dns/privatelink-dns.toml)"
  echo "enabled: $(readlink /etc/systemd/system/multi-user.target.wants/privatelink-dns.service)"
  echo "socket enabled: $(test -e /etc/systemd/system/sockets.target.wants/privatelink-dns.socket && echo yes || echo no)"
  echo "status: $(dpkg-query -W -f "\${Status}" privatelink-dns)"
  if command -v systemd-analyze >/dev/null && command -v man >/dev/null; then
    systemd-analyze verify --man=yes /usr/lib/systemd/system/privatelink-dns.service && echo "verify: ok"
  fi
  runuser -u privatelink-dns -- privatelink-dns check --config /etc/privatelink-dns/privatelink-dns.toml >/dev/null && echo "check as the service user: ok"
  dpkg --purge privatelink-dns >/dev/null
  echo "after purge: $(test -e /etc/privatelink-dns && echo present || echo gone)"
'
"#;
    let report = output_of(
        Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .arg(scratch.path())
            .arg(&deb),
    );
    eprintln!("{report}");
    for line in [
        "user: privatelink-dns:/usr/sbin/nologin",
        "config: root:privatelink-dns 640",
        "status: install ok installed",
        "check as the service user: ok",
        // Socket activation is there to choose, not on by default.
        "socket enabled: no",
    ] {
        assert!(
            report.lines().any(|l| l == line),
            "{line:?} not in\n{report}"
        );
    }
    // deb-systemd-helper links through /lib or /usr/lib (merged /usr).
    assert!(
        report.lines().any(|l| l.starts_with("enabled: /")
            && l.ends_with("lib/systemd/system/privatelink-dns.service")),
        "{report}"
    );
    if on_path("systemd-analyze") {
        assert!(report.lines().any(|l| l == "verify: ok"), "{report}");
    }
    assert!(report.lines().any(|l| l == "after purge: gone"), "{report}");
}
