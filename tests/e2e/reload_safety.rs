//! Issue 18, item 5: a file written in place with pauses between pieces was
//! loaded piece by piece (97, then 199, then 300 names), and the names of
//! the later pieces answered NXDOMAIN meanwhile. A file written in place is
//! now loaded once two reads a while apart agree, and a change that removes
//! many names waits until the file has stayed unchanged.

use std::io::Write;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::base_config;
use crate::client::{self, a_records};
use crate::harness::TestServer;

/// `base_config` plus `count` names, `n.privatelink.blob.core.windows.net`
/// → 10.30.x.y (`last` for the last name), one line each.
fn with_names(count: usize, last: &str) -> (String, Vec<String>) {
    let head = base_config(&[]);
    let lines: Vec<String> = (0..count)
        .map(|i| {
            let address = if i + 1 == count {
                last.to_owned()
            } else {
                format!("10.30.{}.{}", i / 250, i % 250 + 1)
            };
            format!("\"n{i}.privatelink.blob.core.windows.net\" = \"{address}\"\n")
        })
        .collect();
    (head, lines)
}

fn ask(server: &TestServer, name: &str) -> (ResponseCode, Vec<String>) {
    let response = client::udp(server.addr, &client::query(name, RecordType::A));
    (response.metadata.response_code, a_records(&response))
}

#[test]
fn a_file_written_in_place_in_pieces_is_loaded_once_whole() {
    let (head, lines) = with_names(300, "10.30.9.1");
    let server = TestServer::start(&format!("{head}{}", lines.concat()));
    let last = "n299.privatelink.blob.core.windows.net.";
    assert_eq!(
        ask(&server, last),
        (ResponseCode::NoError, vec!["10.30.9.1".into()])
    );
    // The same 300 names, the last one moved: written in place in three
    // pieces 400 ms apart, as the writer did (it used 200 ms).
    let (_, edited) = with_names(300, "10.30.9.2");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(server.config())
        .expect("open");
    let started = Instant::now();
    let mut answers = Vec::new();
    for (i, piece) in edited.chunks(100).enumerate() {
        let text = if i == 0 {
            format!("{head}{}", piece.concat())
        } else {
            piece.concat()
        };
        file.write_all(text.as_bytes()).expect("write");
        file.flush().expect("flush");
        let paused = Instant::now();
        while paused.elapsed() < Duration::from_millis(400) {
            answers.push(ask(&server, last));
            std::thread::sleep(Duration::from_millis(20)); // the pause between pieces is the test
        }
    }
    drop(file);
    while ask(&server, last).1 != ["10.30.9.2"] {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}",
            server.log().join("\n")
        );
        answers.push(ask(&server, last));
        std::thread::sleep(Duration::from_millis(20)); // polling for the reload's effect
    }
    // The last name never went missing, and the file made one reload.
    assert!(
        answers
            .iter()
            .all(|(rcode, _)| *rcode == ResponseCode::NoError),
        "{:?}",
        answers
            .iter()
            .filter(|(rcode, _)| *rcode != ResponseCode::NoError)
            .count()
    );
    assert_eq!(
        server.log_count("mapping reloaded"),
        1,
        "{}",
        server.log().join("\n")
    );
    let line = server.wait_for_log("mapping reloaded", Duration::from_secs(1));
    assert!(
        line.contains("changed=1") && line.contains("removed=0"),
        "{line}"
    );
}

#[test]
fn a_change_that_removes_most_names_waits_until_the_file_has_stayed_unchanged() {
    let (head, lines) = with_names(100, "10.30.9.1");
    let server = TestServer::start(&format!("{head}{}", lines.concat()));
    // Renamed over the file in one step: 60 of the 100 names gone.
    let staged = server.config().with_extension("toml.new");
    std::fs::write(&staged, format!("{head}{}", lines[..40].concat())).expect("write");
    let started = Instant::now();
    std::fs::rename(&staged, server.config()).expect("rename");
    server.wait_for_log(
        "removes many names; applying it once",
        Duration::from_secs(5),
    );
    // Held: the removed names still answer.
    assert_eq!(
        ask(&server, "n99.privatelink.blob.core.windows.net.").0,
        ResponseCode::NoError
    );
    let line = server.wait_for_log("mapping reloaded", Duration::from_secs(10));
    assert!(line.contains("removed=60"), "{line}");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        ask(&server, "n99.privatelink.blob.core.windows.net.").0,
        ResponseCode::NXDomain
    );
    assert_eq!(
        server.log_count("applying a file that removes many names"),
        1
    );
}

#[test]
fn a_fifo_renamed_over_the_watched_file_is_refused_and_the_watch_goes_on() {
    let (head, lines) = with_names(20, "10.30.9.1");
    let server = TestServer::start(&format!("{head}{}", lines.concat()));
    let staged = server.config().with_extension("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&staged)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    std::fs::rename(&staged, server.config()).expect("rename");
    // Was: the watcher's content check opened the FIFO and blocked for good.
    server.wait_for_log("not a regular file", Duration::from_secs(5));
    let (_, edited) = with_names(20, "10.30.9.3");
    let staged = server.config().with_extension("toml.new");
    std::fs::write(&staged, format!("{head}{}", edited.concat())).expect("write");
    std::fs::rename(&staged, server.config()).expect("rename");
    server.wait_for_log("mapping reloaded", Duration::from_secs(5));
    assert_eq!(
        ask(&server, "n19.privatelink.blob.core.windows.net."),
        (ResponseCode::NoError, vec!["10.30.9.3".into()])
    );
}
