//! `TestServer`: the real `privatelink-dns` binary on a loopback port chosen
//! by the system, started on a config the test writes, ready once it has
//! printed its `listening` lines, killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The workspace's root, where the README, docker/ and packaging/ are.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The standard output of `command`, which must succeed (else the test
/// fails with both of its outputs).
pub fn output_of(command: &mut Command) -> String {
    let output = command.output().expect("the command starts");
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// How long a server may take to print its listening lines.
const START_TIMEOUT: Duration = Duration::from_secs(20);

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_privatelink-dns")
}

/// A running server and the log lines it has written so far.
pub struct TestServer {
    child: Child,
    pub addr: SocketAddr,
    pub config_path: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
    lines: Receiver<String>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Writes `config` to a temporary file and serves it on 127.0.0.1, port 0.
    pub fn start(config: &str) -> Self {
        Self::start_with(config, &["--listen", "127.0.0.1:0"])
    }

    pub fn start_with(config: &str, extra_args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config_path = dir.path().join("privatelink-dns.toml");
        std::fs::write(&config_path, config).expect("write config");
        Self::start_in(dir, config_path, extra_args)
    }

    /// Serves `config_path`, which the test has laid out in `dir`.
    pub fn start_in(dir: tempfile::TempDir, config_path: PathBuf, extra_args: &[&str]) -> Self {
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .args(extra_args);
        Self::spawn(&mut command, dir, config_path)
    }

    /// Runs `command` (a `serve` of some form) and waits until it listens.
    pub fn spawn(command: &mut Command, dir: tempfile::TempDir, config_path: PathBuf) -> Self {
        let mut child = command
            .env("RUST_LOG", "info,hickory_server=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn privatelink-dns");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (sender, lines) = mpsc::channel();
        let shared = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                shared.lock().expect("log lock").push(line.clone());
                let _ = sender.send(line);
            }
        });
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            config_path,
            log,
            lines,
            _dir: dir,
        };
        server.addr = server.wait_until_listening();
        server
    }

    /// Waits for both `listening` lines and returns their (common) address.
    fn wait_until_listening(&mut self) -> SocketAddr {
        let deadline = Instant::now() + START_TIMEOUT;
        let (mut udp, mut tcp) = (None, None);
        while udp.is_none() || tcp.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                panic!("server did not start; log:\n{}", self.log().join("\n"));
            };
            if !line.contains("listening") {
                continue;
            }
            let address = field(&line, "address").and_then(|a| a.parse::<SocketAddr>().ok());
            match field(&line, "transport") {
                Some("udp") => udp = address,
                Some("tcp") => tcp = address,
                _ => {}
            }
        }
        assert_eq!(udp, tcp, "UDP and TCP must share the address");
        udp.expect("udp address")
    }

    /// The address of the HTTP endpoint, once it is listening.
    pub fn http_addr(&self) -> SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.log().into_iter().find_map(|line| {
                (line.contains("listening") && field(&line, "transport") == Some("http"))
                    .then(|| field(&line, "address").and_then(|a| a.parse().ok()))
                    .flatten()
            });
            if let Some(address) = found {
                return address;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero() && self.lines.recv_timeout(left).is_ok(),
                "no HTTP listening line; log:\n{}",
                self.log().join("\n")
            );
        }
    }

    /// Every log line so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits until a log line contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for_log_count(needle, 1, timeout)
    }

    /// The number of log lines containing `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log().iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits until `count` log lines contain `needle`; returns the last.
    pub fn wait_for_log_count(&self, needle: &str, count: usize, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let matching: Vec<String> = self
                .log()
                .into_iter()
                .filter(|l| l.contains(needle))
                .collect();
            if matching.len() >= count {
                return matching.last().cloned().unwrap_or_default();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.lines.recv_timeout(left).is_err() {
                panic!(
                    "not {count} log line(s) with {needle:?}; log:\n{}",
                    self.log().join("\n")
                );
            }
        }
    }

    pub fn config(&self) -> &Path {
        &self.config_path
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid")
    }

    /// Sends a signal (by number) to the server.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// True while the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `key=value` (text logs) or `"key":"value"` (JSON logs) in a log line.
fn field<'l>(line: &'l str, key: &str) -> Option<&'l str> {
    if let Some(start) = line.find(&format!("\"{key}\":\"")) {
        let rest = &line[start + key.len() + 4..];
        return rest.split('"').next();
    }
    let start = line.find(&format!("{key}="))? + key.len() + 1;
    line[start..]
        .split_whitespace()
        .next()
        .map(|v| v.trim_matches('"'))
}

/// The value of one series in a Prometheus text page.
pub fn series(page: &str, name_and_labels: &str) -> Option<f64> {
    page.lines()
        .find(|line| {
            line.starts_with(name_and_labels) && line[name_and_labels.len()..].starts_with(' ')
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

/// A plain HTTP/1.1 GET; returns the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, _, body) = get(addr, path, None, None);
    (status, body)
}

/// A GET with an optional `Authorization` value, from an optional loopback
/// source address; returns the status code, the head and the body.
pub fn get(
    addr: SocketAddr,
    path: &str,
    auth: Option<&str>,
    source: Option<&str>,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut stream: std::net::TcpStream = match source {
        None => std::net::TcpStream::connect(addr).expect("connect"),
        Some(source) => {
            let socket =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            let source: SocketAddr = format!("{source}:0").parse().unwrap();
            socket.bind(&source.into()).unwrap();
            socket.connect(&addr.into()).unwrap();
            socket.into()
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let auth = auth.map_or_else(String::new, |a| format!("Authorization: {a}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (status, head.to_owned(), body.to_owned())
}

/// Runs the binary to completion; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(binary())
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run privatelink-dns");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The shipped example configuration, `config/privatelink-dns.toml`.
pub fn example_path() -> String {
    format!(
        "{}/../../config/privatelink-dns.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Runs the binary with `input` on its standard input.
pub fn run_stdin(args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(binary())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run privatelink-dns");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("wait");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Writes `text` to a file in a new temporary directory.
pub fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

/// `field` of /proc/PID/status, in MB.
pub fn status_mb(pid: i32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
