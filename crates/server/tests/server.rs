//! The server in process: `Server::bind` on loopback, `Server::run` until a
//! shutdown signal of the test's own, real UDP and TCP queries in between.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use privatelink_server::{LogFormat, Options, Server};

fn query(name: &str) -> Vec<u8> {
    let mut message = Message::new(0x4242, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    message.to_vec().unwrap()
}

fn assert_mapped(wire: &[u8]) {
    let answer = Message::from_vec(wire).unwrap();
    assert_eq!(answer.metadata.id, 0x4242);
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert!(answer.metadata.authoritative);
    assert!(matches!(answer.answers[0].data, RData::A(a) if a.0.octets() == [10, 0, 0, 7]));
}

#[test]
fn a_bound_server_answers_over_udp_and_tcp_and_stops_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("privatelink-dns.toml");
    std::fs::write(
        &config,
        "[server]\nwatch = false\n[forward]\nupstreams = []\n[records]\n\"acct.privatelink.blob.core.windows.net\" = \"10.0.0.7\"\n",
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime
        .block_on(Server::bind(Options {
            config,
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            http: None,
            log_format: LogFormat::Text,
        }))
        .unwrap();
    let [address]: [SocketAddr; 1] = server.addresses().try_into().unwrap();
    assert_ne!(address.port(), 0);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = runtime.spawn(server.run(async {
        let _ = stopped.await;
    }));

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buffer = [0u8; 512];
    // The sockets were bound before run: a query sent now waits in the
    // socket's buffer until the worker threads read it.
    udp.send_to(&query("acct.privatelink.blob.core.windows.net."), address)
        .unwrap();
    let (len, _) = udp.recv_from(&mut buffer).unwrap();
    assert_mapped(&buffer[..len]);

    let mut tcp = TcpStream::connect(address).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let message = query("ACCT.privatelink.blob.core.windows.net.");
    let mut framed = u16::try_from(message.len()).unwrap().to_be_bytes().to_vec();
    framed.extend_from_slice(&message);
    tcp.write_all(&framed).unwrap();
    let mut length = [0u8; 2];
    tcp.read_exact(&mut length).unwrap();
    let mut wire = vec![0u8; usize::from(u16::from_be_bytes(length))];
    tcp.read_exact(&mut wire).unwrap();
    assert_mapped(&wire);

    stop.send(()).unwrap();
    let result = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), running).await })
        .expect("the server stops within its grace period");
    assert!(result.unwrap().is_ok());
}
