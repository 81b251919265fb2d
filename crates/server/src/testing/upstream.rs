//! A fake upstream on loopback for the oracle tests and fuzz target: public answers, CNAME
//! chains into privatelink zones, negative answers with an SOA; and a
//! second one that answers SERVFAIL to everything.

use std::net::{SocketAddr, UdpSocket};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// Two loopback upstreams: `address` answers, `failing` says SERVFAIL.
#[derive(Debug)]
pub struct FakeUpstream {
    pub address: SocketAddr,
    pub failing: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl FakeUpstream {
    /// Binds both on 127.0.0.1 and answers until dropped.
    #[allow(clippy::expect_used)]
    pub fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (address, answering) = serve(stop.clone(), answer);
        let (failing, refusing) = serve(stop.clone(), |query| {
            let mut response = reply_to(query);
            response.metadata.response_code = ResponseCode::ServFail;
            response
        });
        Self {
            address,
            failing,
            stop,
            threads: vec![answering, refusing],
        }
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[allow(clippy::expect_used)]
fn serve(stop: Arc<AtomicBool>, respond: fn(&Message) -> Message) -> (SocketAddr, JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a loopback socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("a read timeout");
    let address = socket.local_addr().expect("its address");
    let thread = std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while !stop.load(Ordering::Relaxed) {
            let Ok((len, peer)) = socket.recv_from(&mut buffer) else {
                continue;
            };
            let Ok(query) = Message::from_vec(&buffer[..len]) else {
                continue;
            };
            if let Ok(wire) = respond(&query).to_vec() {
                let _ = socket.send_to(&wire, peer);
            }
        }
    });
    (address, thread)
}

fn name(text: &str) -> Name {
    Name::from_str(text).unwrap_or_else(|_| Name::root())
}

fn reply_to(query: &Message) -> Message {
    let mut response = Message::new(
        query.metadata.id,
        MessageType::Response,
        query.metadata.op_code,
    );
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.queries = query.queries.clone();
    if query.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        response.set_edns(edns);
    }
    response
}

fn soa(zone: &str) -> Record {
    Record::from_rdata(
        name(zone),
        300,
        RData::SOA(SOA::new(
            name("ns1.example."),
            name("hostmaster.example."),
            1,
            3600,
            600,
            86_400,
            60,
        )),
    )
}

fn cname(owner: &Name, target: &str) -> Record {
    Record::from_rdata(owner.clone(), 60, RData::CNAME(CNAME(name(target))))
}

fn answer(query: &Message) -> Message {
    let mut response = reply_to(query);
    let Some(question) = query.queries.first() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };
    let qname = question.name().to_lowercase();
    let text = qname.to_ascii();
    let labels: Vec<&str> = text.trim_end_matches('.').split('.').collect();
    let qtype = question.query_type();
    if text == "www.example.com." {
        if qtype == RecordType::A {
            response.add_answer(Record::from_rdata(
                question.name().clone(),
                300,
                RData::A(A::new(192, 0, 2, 1)),
            ));
        } else {
            response.add_authority(soa("example.com."));
        }
    } else if text.ends_with(".blob.core.windows.net.")
        && !text.contains(".privatelink.")
        && labels.len() == 5
    {
        let account = labels[0];
        let private = format!("{account}.privatelink.blob.core.windows.net.");
        response.add_answer(cname(question.name(), &private));
        response.add_answer(cname(&name(&private), "blob.ams07.store.core.windows.net."));
        if qtype == RecordType::A {
            response.add_answer(Record::from_rdata(
                name("blob.ams07.store.core.windows.net."),
                60,
                RData::A(A::new(20, 60, 0, 1)),
            ));
        }
    } else if text.ends_with(".privatelink.vaultcore.azure.net.") {
        response.add_answer(cname(question.name(), "data.vaultcore.azure.net."));
        if qtype == RecordType::A {
            response.add_answer(Record::from_rdata(
                name("data.vaultcore.azure.net."),
                60,
                RData::A(A::new(52, 1, 2, 3)),
            ));
        }
    } else {
        response.metadata.response_code = ResponseCode::NXDomain;
        response.add_authority(soa(if text.ends_with("example.com.") {
            "example.com."
        } else {
            "."
        }));
    }
    response
}
