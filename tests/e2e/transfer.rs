//! Zone transfers out with our own client: who may transfer, what a
//! transfer holds, serials that follow the mapping, NOTIFY after a reload.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{Record, RecordType};

use crate::client::{self, TcpClient};
use crate::harness::TestServer;

const BLOB: &str = "privatelink.blob.core.windows.net.";
const QUEUE: &str = "privatelink.queue.core.windows.net.";

/// A small offline mapping; `server` lines go into `[server]`.
fn config(server: &str, extra_records: &str) -> String {
    format!(
        r#"
[server]
hostname = "ns1.test.internal"
{server}

[forward]
upstreams = []

[records]
"a.privatelink.blob.core.windows.net" = ["10.0.0.1", "fd00::1"]
"app.deep.privatelink.blob.core.windows.net" = "10.0.0.2"
"q.privatelink.queue.core.windows.net" = "10.0.0.3"
{extra_records}
"#
    )
}

/// Every message of a transfer over one TCP connection, up to the closing SOA.
pub fn axfr(server: std::net::SocketAddr, zone: &str, rtype: RecordType) -> Vec<Message> {
    let query = client::query_no_edns(zone, rtype);
    let mut connection = TcpClient::connect(server);
    connection.send(&query);
    let mut messages = Vec::new();
    let mut soas = 0;
    while soas < 2 {
        let message = connection.receive();
        assert_eq!(message.metadata.id, query.metadata.id);
        if message.metadata.response_code != ResponseCode::NoError {
            messages.push(message);
            break;
        }
        soas += message
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .count();
        messages.push(message);
        assert!(messages.len() < 1000, "a transfer that does not end");
    }
    messages
}

fn records(messages: &[Message]) -> Vec<Record> {
    messages.iter().flat_map(|m| m.answers.clone()).collect()
}

/// The serial the server answers for an apex SOA query.
fn served_serial(server: &TestServer, zone: &str) -> u32 {
    let response = client::udp(server.addr, &client::query(zone, RecordType::SOA));
    client::soa_serial(&response)
}

#[test]
fn an_allowed_client_transfers_the_whole_zone() {
    let server = TestServer::start(&config("allow_transfer = [\"127.0.0.1\"]", ""));
    let messages = axfr(server.addr, BLOB, RecordType::AXFR);
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.metadata.response_code, ResponseCode::NoError);
    assert!(message.metadata.authoritative);
    assert_eq!(message.queries.len(), 1, "the question is copied");
    let lines: Vec<String> = records(&messages).iter().map(ToString::to_string).collect();
    let serial = client::soa_serial(message);
    let soa = format!(
        "privatelink.blob.core.windows.net. 3600 IN SOA azureprivatedns.net. azureprivatedns-host.microsoft.com. {serial} 3600 300 2419200 10"
    );
    assert_eq!(
        lines,
        [
            soa.clone(),
            "privatelink.blob.core.windows.net. 3600 IN NS ns1.test.internal.".to_owned(),
            "a.privatelink.blob.core.windows.net. 10 IN A 10.0.0.1".to_owned(),
            "a.privatelink.blob.core.windows.net. 10 IN AAAA fd00::1".to_owned(),
            "app.deep.privatelink.blob.core.windows.net. 10 IN A 10.0.0.2".to_owned(),
            soa,
        ]
    );
    // With transfers on, the serial is the load time, not Azure's 1.
    let now = u32::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    assert!(
        serial <= now && serial + 60 > now,
        "serial {serial}, now {now}"
    );
    assert_eq!(served_serial(&server, BLOB), serial);
}

#[test]
fn transfers_are_refused_unless_allowed_and_serials_stay_azure_s() {
    // Default: no transfers, serial 1.
    let server = TestServer::start(&config("", ""));
    for rtype in [RecordType::AXFR, RecordType::IXFR] {
        let messages = axfr(server.addr, BLOB, rtype);
        assert_eq!(messages[0].metadata.response_code, ResponseCode::Refused);
        assert!(messages[0].answers.is_empty());
    }
    // Over UDP too, for the apex and for a mapped name: REFUSED, never the
    // NODATA of an ordinary type (the UDP fast path once answered that).
    for name in [BLOB, "a.privatelink.blob.core.windows.net."] {
        for rtype in [RecordType::AXFR, RecordType::IXFR] {
            let response = client::udp(server.addr, &client::query(name, rtype));
            assert_eq!(
                response.metadata.response_code,
                ResponseCode::Refused,
                "{name} {rtype}"
            );
        }
    }
    assert_eq!(served_serial(&server, BLOB), 1);

    // Allowed for another address only.
    let server = TestServer::start(&config("allow_transfer = [\"127.0.0.2/32\"]", ""));
    let messages = axfr(server.addr, BLOB, RecordType::AXFR);
    assert_eq!(messages[0].metadata.response_code, ResponseCode::Refused);
}

#[test]
fn transfers_of_names_that_are_not_served_apexes_are_notauth() {
    let server = TestServer::start(&config("allow_transfer = [\"127.0.0.0/8\"]", ""));
    for zone in [
        "a.privatelink.blob.core.windows.net.",
        "privatelink.vaultcore.azure.net.",
        "example.com.",
    ] {
        let messages = axfr(server.addr, zone, RecordType::AXFR);
        assert_eq!(
            messages[0].metadata.response_code,
            ResponseCode::NotAuth,
            "{zone}"
        );
    }
}

#[test]
fn ixfr_from_an_unknown_serial_gets_the_soa_over_udp_and_the_whole_zone_over_tcp() {
    let server = TestServer::start(&config("allow_transfer = [\"127.0.0.1\"]", ""));
    let udp = client::udp(server.addr, &crate::ixfr::query(QUEUE, 1));
    assert_eq!(udp.metadata.response_code, ResponseCode::NoError);
    assert!(udp.metadata.authoritative);
    assert_eq!(udp.answers.len(), 1);
    assert_eq!(client::soa_serial(&udp), served_serial(&server, QUEUE));

    let axfr_over_udp = client::udp(server.addr, &client::query_no_edns(QUEUE, RecordType::AXFR));
    assert_eq!(
        axfr_over_udp.metadata.response_code,
        ResponseCode::Refused,
        "AXFR needs TCP"
    );

    let mut connection = TcpClient::connect(server.addr);
    let tcp = connection.ask(&crate::ixfr::query(QUEUE, 1)).answers;
    assert_eq!(tcp.len(), 4, "SOA, NS, one A, SOA: {tcp:?}");
}

#[test]
fn a_large_zone_comes_in_several_messages_with_every_record() {
    let extra: String = (0..1000)
        .map(|i| {
            format!(
                "\"host{i:04}.privatelink.blob.core.windows.net\" = \"10.1.{}.{}\"\n",
                i / 250,
                i % 250 + 1
            )
        })
        .collect();
    let server = TestServer::start(&config("allow_transfer = [\"127.0.0.1\"]", &extra));
    let messages = axfr(server.addr, BLOB, RecordType::AXFR);
    assert!(messages.len() > 1, "one message for 1,000 names");
    let all = records(&messages);
    // SOA, NS, 1,000 hosts, a (A and AAAA), app.deep, SOA.
    assert_eq!(all.len(), 1006);
    assert_eq!(all.first().map(Record::record_type), Some(RecordType::SOA));
    assert_eq!(all.last().map(Record::record_type), Some(RecordType::SOA));
    assert!(
        all.iter()
            .any(|r| r.to_string()
                == "host0999.privatelink.blob.core.windows.net. 10 IN A 10.1.3.250")
    );
}

#[test]
fn a_reload_raises_the_serial_of_changed_zones_only_and_notifies_secondaries() {
    // A fake secondary: receives NOTIFY and acknowledges it.
    let secondary = UdpSocket::bind("127.0.0.1:0").unwrap();
    let settings = format!(
        "allow_transfer = [\"127.0.0.1\"]\nnotify = [\"{}\"]",
        secondary.local_addr().unwrap()
    );
    let text = config(&settings, "");
    let server = TestServer::start(&text);

    // At start-up, every zone is announced once.
    let mut announced = receive_notifies(&secondary, 2);
    announced.sort();
    assert_eq!(announced, [BLOB, QUEUE]);
    server.wait_for_log_count("secondary notified", 2, Duration::from_secs(10));

    let (blob_before, queue_before) = (served_serial(&server, BLOB), served_serial(&server, QUEUE));
    std::fs::write(server.config(), text.replace("10.0.0.1", "10.0.0.9")).unwrap();
    server.signal("HUP");
    assert_eq!(receive_notifies(&secondary, 1), [BLOB]);
    server.wait_for_log("serials_changed=1", Duration::from_secs(5));
    assert!(served_serial(&server, BLOB) > blob_before);
    assert_eq!(served_serial(&server, QUEUE), queue_before);
    server.wait_for_log_count("secondary notified", 3, Duration::from_secs(10));

    // A SIGHUP that changes nothing changes no serial and notifies no one.
    let blob_after = served_serial(&server, BLOB);
    server.signal("HUP");
    server.wait_for_log("serials_changed=0", Duration::from_secs(5));
    assert_eq!(served_serial(&server, BLOB), blob_after);
    let mut buffer = [0u8; 512];
    assert!(
        client::receive_within(&secondary, &mut buffer, Duration::from_millis(500)).is_none(),
        "no NOTIFY"
    );
}

/// Receives `count` NOTIFY messages, acknowledges each, returns their zones.
fn receive_notifies(socket: &UdpSocket, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut zones = Vec::new();
    let mut buffer = [0u8; 512];
    while zones.len() < count {
        assert!(Instant::now() < deadline, "only {zones:?} notified");
        let left = deadline.saturating_duration_since(Instant::now());
        let (length, from) = client::receive_within(socket, &mut buffer, left).expect("a NOTIFY");
        let notify = Message::from_vec(&buffer[..length]).expect("decode");
        assert_eq!(notify.metadata.op_code, OpCode::Notify);
        assert!(notify.metadata.authoritative, "NOTIFY has AA");
        assert_eq!(notify.queries[0].query_type(), RecordType::SOA);
        zones.push(notify.queries[0].name().to_ascii());
        let mut ack = Message::new(notify.metadata.id, MessageType::Response, OpCode::Notify);
        ack.metadata.authoritative = true;
        ack.add_query(notify.queries[0].clone());
        socket.send_to(&ack.to_vec().unwrap(), from).unwrap();
    }
    zones
}
