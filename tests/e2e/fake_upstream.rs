//! A fake upstream resolver on loopback (UDP and TCP on one port) that
//! answers from a table, or misbehaves on purpose, and counts what it gets.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// From its table; NXDOMAIN with an SOA for unknown names.
    Answer,
    /// Never replies.
    Hang,
    ServFail,
    Refused,
    /// Replies with another message id.
    WrongId,
    /// Replies to another question.
    WrongQuestion,
    /// Replies with bytes that are not a DNS message.
    Garbage,
    /// Replies over UDP with TC set and no records; answers fully over TCP.
    TruncateUdp,
    /// Answers, plus records about a name nobody asked for, in the answer
    /// and additional sections.
    Poison,
}

impl Behaviour {
    const ALL: [Self; 9] = [
        Self::Answer,
        Self::Hang,
        Self::ServFail,
        Self::Refused,
        Self::WrongId,
        Self::WrongQuestion,
        Self::Garbage,
        Self::TruncateUdp,
        Self::Poison,
    ];

    fn index(self) -> u8 {
        Self::ALL
            .iter()
            .position(|b| *b == self)
            .and_then(|i| u8::try_from(i).ok())
            .unwrap_or(0)
    }

    fn from_index(index: u8) -> Self {
        Self::ALL
            .get(usize::from(index))
            .copied()
            .unwrap_or(Self::Answer)
    }
}

/// A running fake upstream.
pub struct FakeUpstream {
    pub addr: SocketAddr,
    behaviour: Arc<AtomicU8>,
    /// How long UDP answers are held back, in milliseconds.
    delay_ms: Arc<AtomicU64>,
    udp_queries: Arc<AtomicUsize>,
    tcp_queries: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Message>>>,
    load: Arc<Load>,
    stop: Arc<AtomicBool>,
}

/// What the fake has had to bear: UDP queries received and not yet
/// answered, the most of those at once, and when each arrived.
#[derive(Default)]
struct Load {
    pending: AtomicUsize,
    max_pending: AtomicUsize,
    arrivals: Mutex<Vec<Instant>>,
}

impl Load {
    fn arrived(&self) {
        let now = self.pending.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_pending.fetch_max(now, Ordering::SeqCst);
        self.arrivals.lock().expect("arrivals").push(Instant::now());
    }

    fn answered(&self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What the fake knows.
#[derive(Clone, Default)]
pub struct Table {
    records: Vec<Record>,
}

impl Table {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn a(mut self, name: &str, ip: &str, ttl: u32) -> Self {
        let ip = Ipv4Addr::from_str(ip).expect("ip");
        self.records.push(Record::from_rdata(
            Name::from_ascii(name).expect("name"),
            ttl,
            RData::A(A(ip)),
        ));
        self
    }

    pub fn cname(mut self, name: &str, target: &str, ttl: u32) -> Self {
        let target = Name::from_ascii(target).expect("target");
        self.records.push(Record::from_rdata(
            Name::from_ascii(name).expect("name"),
            ttl,
            RData::CNAME(CNAME(target)),
        ));
        self
    }

    /// The response to `request`, answered correctly.
    fn respond(&self, request: &Message) -> Message {
        let mut response = Message::new(
            request.metadata.id,
            MessageType::Response,
            request.metadata.op_code,
        );
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.metadata.recursion_available = true;
        let Some(question) = request.queries.first() else {
            response.metadata.response_code = ResponseCode::FormErr;
            return response;
        };
        response.add_query(question.clone());
        // Follow CNAMEs as a recursive resolver does: the chain, then the data.
        let mut name = question.name().clone();
        for _ in 0..16 {
            let at_name: Vec<&Record> = self.records.iter().filter(|r| r.name == name).collect();
            if at_name.is_empty() {
                if response.answers.is_empty() || question.query_type() != RecordType::CNAME {
                    response.metadata.response_code = ResponseCode::NXDomain;
                    response.add_authority(fake_soa());
                }
                return response;
            }
            let cname = at_name.iter().find_map(|r| match &r.data {
                RData::CNAME(target) => Some(((*r).clone(), target.0.clone())),
                _ => None,
            });
            match cname {
                Some((record, target)) => {
                    response.add_answer(record);
                    if question.query_type() == RecordType::CNAME {
                        return response;
                    }
                    name = target;
                }
                None => {
                    response.add_answers(
                        at_name
                            .into_iter()
                            .filter(|r| r.record_type() == question.query_type())
                            .cloned(),
                    );
                    if response
                        .answers
                        .iter()
                        .all(|r| r.record_type() == RecordType::CNAME)
                    {
                        response.add_authority(fake_soa());
                    }
                    return response;
                }
            }
        }
        response
    }
}

fn fake_soa() -> Record {
    let soa = SOA::new(
        Name::from_ascii("ns.example.").expect("mname"),
        Name::from_ascii("hostmaster.example.").expect("rname"),
        2026,
        7200,
        900,
        1_209_600,
        300,
    );
    Record::from_rdata(
        Name::from_ascii("example.").expect("apex"),
        300,
        RData::SOA(soa),
    )
}

impl FakeUpstream {
    pub fn start(behaviour: Behaviour, table: Table) -> Self {
        let (udp, tcp) = bind_pair();
        let addr = udp.local_addr().expect("addr");
        let fake = Self {
            addr,
            behaviour: Arc::new(AtomicU8::new(behaviour.index())),
            delay_ms: Arc::default(),
            udp_queries: Arc::default(),
            tcp_queries: Arc::default(),
            seen: Arc::default(),
            load: Arc::default(),
            stop: Arc::default(),
        };
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        {
            let (count, seen, stop, table, mode, delay, load) = (
                fake.udp_queries.clone(),
                fake.seen.clone(),
                fake.stop.clone(),
                table.clone(),
                fake.behaviour.clone(),
                fake.delay_ms.clone(),
                fake.load.clone(),
            );
            // Held-back answers leave in arrival order from one thread.
            let (held, due) = mpsc::channel::<(Instant, Vec<u8>, SocketAddr)>();
            let sender = udp.try_clone().expect("clone udp");
            let delayed_load = load.clone();
            thread::spawn(move || {
                for (at, reply, client) in due {
                    thread::sleep(at.saturating_duration_since(Instant::now()));
                    // No longer pending once it leaves: counted first, or the
                    // server's next query could arrive before the count drops.
                    delayed_load.answered();
                    let _ = sender.send_to(&reply, client);
                }
            });
            thread::spawn(move || {
                let mut buffer = vec![0u8; 65535];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((len, client)) = udp.recv_from(&mut buffer) else {
                        continue;
                    };
                    let Ok(request) = Message::from_vec(&buffer[..len]) else {
                        continue;
                    };
                    count.fetch_add(1, Ordering::SeqCst);
                    load.arrived();
                    seen.lock().expect("seen").push(request.clone());
                    let behaviour = Behaviour::from_index(mode.load(Ordering::SeqCst));
                    let Some(reply) = misbehave(behaviour, &table, &request, true) else {
                        // Silence: never answered, so it stays pending here.
                        continue;
                    };
                    let delay = Duration::from_millis(delay.load(Ordering::SeqCst));
                    if delay.is_zero() {
                        load.answered();
                        let _ = udp.send_to(&reply, client);
                    } else if held.send((Instant::now() + delay, reply, client)).is_err() {
                        load.answered();
                    }
                }
            });
        }
        {
            let (count, seen, stop, mode) = (
                fake.tcp_queries.clone(),
                fake.seen.clone(),
                fake.stop.clone(),
                fake.behaviour.clone(),
            );
            thread::spawn(move || {
                for stream in tcp.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (count, seen, table, mode) =
                        (count.clone(), seen.clone(), table.clone(), mode.clone());
                    thread::spawn(move || serve_tcp(stream, &mode, &table, &count, &seen));
                }
            });
        }
        fake
    }

    /// A fake that answers from `table`.
    pub fn answering(table: Table) -> Self {
        Self::start(Behaviour::Answer, table)
    }

    /// Changes how the fake answers from now on.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.behaviour.store(behaviour.index(), Ordering::SeqCst);
    }

    /// Holds UDP answers back by `delay` from now on.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    pub fn udp_queries(&self) -> usize {
        self.udp_queries.load(Ordering::SeqCst)
    }

    pub fn tcp_queries(&self) -> usize {
        self.tcp_queries.load(Ordering::SeqCst)
    }

    pub fn queries(&self) -> usize {
        self.udp_queries() + self.tcp_queries()
    }

    /// The most UDP queries that were unanswered here at once.
    pub fn max_pending(&self) -> usize {
        self.load.max_pending.load(Ordering::SeqCst)
    }

    /// The most UDP queries that arrived within any `window`.
    pub fn max_in_window(&self, window: Duration) -> usize {
        let arrivals = self.load.arrivals.lock().expect("arrivals").clone();
        (0..arrivals.len())
            .map(|first| {
                arrivals[first..]
                    .iter()
                    .take_while(|at| **at < arrivals[first] + window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    /// Every query received so far.
    pub fn seen(&self) -> Vec<Message> {
        self.seen.lock().expect("seen").clone()
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the blocking accept so the TCP thread can see the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve_tcp(
    mut stream: TcpStream,
    mode: &AtomicU8,
    table: &Table,
    count: &AtomicUsize,
    seen: &Mutex<Vec<Message>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).is_err() {
            return;
        }
        let mut buffer = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut buffer).is_err() {
            return;
        }
        let Ok(request) = Message::from_vec(&buffer) else {
            return;
        };
        count.fetch_add(1, Ordering::SeqCst);
        seen.lock().expect("seen").push(request.clone());
        let behaviour = Behaviour::from_index(mode.load(Ordering::SeqCst));
        if let Some(reply) = misbehave(behaviour, table, &request, false) {
            let mut framed = u16::try_from(reply.len())
                .expect("len")
                .to_be_bytes()
                .to_vec();
            framed.extend_from_slice(&reply);
            if stream.write_all(&framed).is_err() {
                return;
            }
        }
    }
}

/// The bytes to send back for `request`, or `None` to stay silent.
fn misbehave(
    behaviour: Behaviour,
    table: &Table,
    request: &Message,
    over_udp: bool,
) -> Option<Vec<u8>> {
    let mut response = table.respond(request);
    match behaviour {
        Behaviour::Answer => {}
        Behaviour::Hang => return None,
        Behaviour::ServFail => {
            response.answers.clear();
            response.metadata.response_code = ResponseCode::ServFail;
        }
        Behaviour::Refused => {
            response.answers.clear();
            response.metadata.response_code = ResponseCode::Refused;
        }
        Behaviour::WrongId => response.metadata.id = response.metadata.id.wrapping_add(1),
        Behaviour::WrongQuestion => {
            response.queries = vec![Query::query(
                Name::from_ascii("spoofed.example.").expect("name"),
                RecordType::A,
            )];
            response.answers = vec![Record::from_rdata(
                Name::from_ascii("spoofed.example.").expect("name"),
                300,
                RData::A(A(Ipv4Addr::new(6, 6, 6, 6))),
            )];
            response.metadata.response_code = ResponseCode::NoError;
        }
        Behaviour::Garbage => return Some(b"\x12\x34not dns at all, just noise".to_vec()),
        Behaviour::TruncateUdp if over_udp => {
            response.answers.clear();
            response.authorities.clear();
            response.metadata.truncation = true;
        }
        Behaviour::TruncateUdp => {}
        Behaviour::Poison => {
            let planted = Record::from_rdata(
                Name::from_ascii("www.bank.example.").expect("name"),
                86_400,
                RData::A(A(Ipv4Addr::new(6, 6, 6, 6))),
            );
            response.add_answer(planted.clone());
            response.add_additional(planted);
        }
    }
    response.to_vec().ok()
}

/// A UDP socket and a TCP listener on the same loopback port.
fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..32 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let addr = udp.local_addr().expect("addr");
        if let Ok(tcp) = TcpListener::bind(addr) {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP");
}
