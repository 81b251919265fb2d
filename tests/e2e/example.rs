//! The shipped example configuration: valid, offline, and serving.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::FAB1;
use crate::client::{self, a_records, assert_authoritative};
use crate::harness::{TestServer, example_path, run};

#[test]
fn the_example_is_valid_without_warnings_and_offline() {
    let path = example_path();
    let (code, stdout, _) = run(&["check", "--config", &path]);
    assert_eq!(code, 0, "{stdout}");
    assert!(!stdout.contains(": warning:"), "{stdout}");
    assert!(stdout.contains("0 warning(s)"), "{stdout}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.lines().any(|l| l.trim() == "upstreams = []"),
        "the example must not reach the network"
    );
    assert!(
        text.lines()
            .any(|l| l.trim() == "listen = [\"127.0.0.1:5353\"]")
    );
}

#[test]
fn the_example_serves_its_vault_and_storage_names() {
    let text = std::fs::read_to_string(example_path()).unwrap();
    let server = TestServer::start(&text);
    let fab1 = client::udp(server.addr, &client::query(FAB1, RecordType::A));
    assert_authoritative(&fab1, ResponseCode::NoError);
    assert_eq!(a_records(&fab1), ["10.10.0.4"]);
    let queue = client::tcp(
        server.addr,
        &client::query(
            "weacct01pod01ecs114.privatelink.queue.core.windows.net.",
            RecordType::A,
        ),
    );
    assert_eq!(a_records(&queue), ["10.10.0.13"]);
    let offline = client::udp(
        server.addr,
        &client::query("login.microsoftonline.com.", RecordType::A),
    );
    assert_eq!(offline.metadata.response_code, ResponseCode::ServFail);
}
