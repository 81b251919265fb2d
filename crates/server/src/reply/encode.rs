//! The reference encoder: a [`Reply`] for a hickory-decoded request,
//! written with hickory's codec. The header flags and the OPT record are
//! written by the same [`crate::wire`] functions the prepared answers use,
//! so the two can only differ where a test would see it.

use hickory_proto::ProtoError;
use hickory_proto::op::{
    EmitAndCount, LowerQuery, Message, Metadata, ResponseCode, emit_message_parts,
};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_server::server::Request;
use tracing::warn;

use super::Reply;
use crate::wire::edns::ClientEdns;
use crate::wire::{HEADER, HeaderBits, Transport, flag, response_flags};

/// What a written response says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Encoded {
    pub(crate) rcode: ResponseCode,
    /// Sent with TC and empty sections because it was too large for UDP.
    pub(crate) truncated: bool,
}

/// The flags word of a decoded query.
fn query_flags(metadata: &Metadata) -> u16 {
    let mut flags = u16::from(u8::from(metadata.op_code)) << 11;
    if metadata.recursion_desired {
        flags |= flag::RD;
    }
    if metadata.checking_disabled {
        flags |= flag::CD;
    }
    flags
}

/// Writes the response to `request` into `out`. A response larger than the
/// client may receive over `transport` is replaced by an empty one with TC
/// set, so that the client retries over TCP (RFC 7766 §5) and never sees a
/// partial RRset. A response that cannot be encoded at all (over 64 KiB)
/// becomes SERVFAIL.
pub(crate) fn encode(
    out: &mut Vec<u8>,
    request: &Request,
    reply: &Reply,
    client: &ClientEdns,
    transport: Transport,
) -> Encoded {
    let sections = if reply.truncated {
        Sections::EMPTY
    } else {
        Sections::of(reply)
    };
    let limit = client.limit(transport);
    let mut bits = reply.header_bits();
    let written = emit(out, request, bits, reply.rcode, sections, client);
    match written {
        Ok(()) if out.len() <= limit => Encoded {
            rcode: reply.rcode,
            truncated: reply.truncated,
        },
        Ok(()) => {
            bits.truncated = true;
            match emit(out, request, bits, reply.rcode, Sections::EMPTY, client) {
                Ok(()) => Encoded {
                    rcode: reply.rcode,
                    truncated: true,
                },
                Err(error) => server_failure(out, request, client, &error),
            }
        }
        Err(error) => server_failure(out, request, client, &error),
    }
}

/// The answer, authority and additional records to write.
#[derive(Clone, Copy)]
struct Sections<'r> {
    answers: &'r [Record],
    authorities: &'r [Record],
    additionals: &'r [Record],
}

impl<'r> Sections<'r> {
    const EMPTY: Sections<'static> = Sections {
        answers: &[],
        authorities: &[],
        additionals: &[],
    };

    fn of(reply: &'r Reply) -> Self {
        Self {
            answers: &reply.answers,
            authorities: &reply.authorities,
            additionals: &reply.additionals,
        }
    }
}

fn emit(
    out: &mut Vec<u8>,
    request: &Request,
    bits: HeaderBits,
    rcode: ResponseCode,
    sections: Sections<'_>,
    client: &ClientEdns,
) -> Result<(), ProtoError> {
    out.clear();
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = rcode;
    {
        let mut encoder = BinEncoder::new(out);
        let mut question = RawQuestion {
            wire: request.queries.as_bytes(),
            queries: request.queries.queries(),
            pointers: bits.authoritative,
        };
        emit_message_parts(
            &metadata,
            &mut question,
            &mut sections.answers.iter(),
            &mut sections.authorities.iter(),
            &mut sections.additionals.iter(),
            None,
            None,
            &mut encoder,
        )?;
    }
    finish(
        out,
        query_flags(&request.metadata),
        bits,
        u16::from(rcode),
        client,
    )
}

/// Sets the flags word and appends the OPT record: the parts of a header
/// that [`crate::wire`] decides for every response.
fn finish(
    out: &mut Vec<u8>,
    query_flags: u16,
    bits: HeaderBits,
    rcode: u16,
    client: &ClientEdns,
) -> Result<(), ProtoError> {
    if out.len() < HEADER {
        return Err(ProtoError::from("a response without a header"));
    }
    out[2..4].copy_from_slice(&response_flags(query_flags, bits, rcode).to_be_bytes());
    let added = client.write_opt(out, rcode);
    let additionals = u16::from_be_bytes([out[10], out[11]]).saturating_add(added);
    out[10..12].copy_from_slice(&additionals.to_be_bytes());
    Ok(())
}

/// A bare SERVFAIL for a response that could not be encoded.
fn server_failure(
    out: &mut Vec<u8>,
    request: &Request,
    client: &ClientEdns,
    error: &ProtoError,
) -> Encoded {
    warn!(%error, client = %request.src(), "a response could not be encoded; sending SERVFAIL");
    let metadata = Metadata::response_from_request(&request.metadata);
    let mut message = Message::new(metadata.id, metadata.message_type, metadata.op_code);
    message.metadata = metadata;
    *out = message.to_vec().unwrap_or_default();
    let bits = HeaderBits {
        recursion_available: true,
        ..HeaderBits::default()
    };
    let rcode = ResponseCode::ServFail;
    let _ = finish(
        out,
        query_flags(&request.metadata),
        bits,
        u16::from(rcode),
        client,
    );
    Encoded {
        rcode,
        truncated: false,
    }
}

/// FORMERR for a query whose header reads but whose body does not: the
/// header alone, the id and opcode kept, with the flags every response gets.
pub(crate) fn formerr(out: &mut Vec<u8>, query: &[u8]) {
    let (Some(id), Some(flags)) = (query.get(..2), crate::wire::u16_at(query, 2)) else {
        return;
    };
    out.clear();
    out.extend_from_slice(id);
    let bits = HeaderBits {
        recursion_available: true,
        ..HeaderBits::default()
    };
    let rcode = u16::from(ResponseCode::FormErr);
    out.extend_from_slice(&response_flags(flags, bits, rcode).to_be_bytes());
    out.extend_from_slice(&[0; 8]);
}

/// The question section as the client wrote it, copied. Each suffix of the
/// first question's name is recorded for compression, so that answer owners
/// written in the same case point into the question, as other servers do
/// (hickory-server 0.26.3's own copy records one pointer spanning QTYPE and
/// QCLASS too, which never matches).
///
/// A question whose name uses compression is encoded again instead: its
/// pointers are offsets into the query, and copied into the response they
/// would point at other bytes (hickory's copy has that flaw; the packet
/// fuzzer found it).
struct RawQuestion<'a> {
    wire: &'a [u8],
    queries: &'a [LowerQuery],
    /// Whether later names may point into the question. Only for our own
    /// (authoritative) data, whose owners are the question name: relayed
    /// data keeps the names the upstream gave, and a pointer into the
    /// question would give them the case of whoever asked (the memo sends
    /// one response to askers of every case).
    pointers: bool,
}

impl RawQuestion<'_> {
    /// True when the bytes are the questions' names in plain labels, each
    /// followed by QTYPE and QCLASS: safe to copy anywhere.
    fn is_self_contained(&self) -> bool {
        let mut at = 0;
        for _ in self.queries {
            loop {
                match self.wire.get(at) {
                    Some(0) => break,
                    Some(&len) if len <= 63 => at += usize::from(len) + 1,
                    _ => return false,
                }
            }
            at += 1 + 4;
        }
        at == self.wire.len()
    }
}

impl EmitAndCount for RawQuestion<'_> {
    fn emit(&mut self, encoder: &mut BinEncoder<'_>) -> Result<usize, ProtoError> {
        if !self.is_self_contained() {
            for query in self.queries {
                query.original().emit(encoder)?;
            }
            return Ok(self.queries.len());
        }
        let start = encoder.offset();
        encoder.emit_vec(self.wire)?;
        if self.pointers && !self.queries.is_empty() {
            let mut label_starts = Vec::new();
            let mut at = 0;
            while let Some(&len) = self.wire.get(at) {
                if len == 0 || len > 63 {
                    break;
                }
                label_starts.push(start + at);
                at += usize::from(len) + 1;
            }
            // Only a name that ends with the root label within the copy.
            if self.wire.get(at) == Some(&0) {
                let end = start + at;
                for label in label_starts {
                    encoder.store_label_pointer(label, end);
                }
            }
        }
        Ok(self.queries.len())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};

    use hickory_proto::op::{Edns, MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{Name, RData};
    use hickory_server::net::xfer::Protocol;

    use super::*;
    use crate::reply::Outcome;

    fn request(name: &str, edns: bool) -> Request {
        let mut message = Message::new(7, MessageType::Query, OpCode::Query);
        message.add_query(Query::query(
            Name::from_ascii(name).unwrap(),
            hickory_proto::rr::RecordType::A,
        ));
        if edns {
            message.set_edns(large_edns());
        }
        let peer = SocketAddr::from(([127, 0, 0, 1], 5353));
        Request::from_bytes(message.to_vec().unwrap(), peer, Protocol::Udp).unwrap()
    }

    fn large_edns() -> Edns {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns
    }

    fn addresses(name: &str, count: u8) -> Reply {
        let answers = (1..=count)
            .map(|i| {
                Record::from_rdata(
                    Name::from_ascii(name).unwrap(),
                    10,
                    RData::A(A(Ipv4Addr::new(10, 0, 0, i))),
                )
            })
            .collect();
        Reply::authoritative(Outcome::Mapped, ResponseCode::NoError, answers, Vec::new())
    }

    fn written(
        request: &Request,
        reply: &Reply,
        client: &ClientEdns,
        transport: Transport,
    ) -> (Vec<u8>, Encoded) {
        let mut out = Vec::new();
        let encoded = encode(&mut out, request, reply, client, transport);
        (out, encoded)
    }

    #[test]
    fn answer_owners_point_into_the_question() {
        let name = "acct.privatelink.blob.core.windows.net.";
        let request = request(name, false);
        let client = ClientEdns::negotiate(None);
        let (wire, _) = written(&request, &addresses(name, 1), &client, Transport::Udp);
        // Header, question (40-byte name + type + class), then an answer
        // whose owner is a pointer to offset 12.
        let answer_at = 12 + 40 + 4;
        assert_eq!(&wire[answer_at..answer_at + 2], &[0xC0, 0x0C]);
        assert_eq!(wire.len(), answer_at + 2 + 10 + 4);
        let message = Message::from_vec(&wire).unwrap();
        assert_eq!(message.answers[0].name, Name::from_ascii(name).unwrap());
        // A name below the question's own suffix points into it too.
        let (deeper, _) = written(
            &request,
            &addresses("x.privatelink.blob.core.windows.net.", 1),
            &client,
            Transport::Udp,
        );
        assert_eq!(&deeper[answer_at + 2..answer_at + 4], &[0xC0, 12 + 5]);
        assert!(Message::from_vec(&deeper).is_ok());
    }

    #[test]
    fn too_large_for_udp_is_truncated_but_not_over_tcp() {
        let name = "acct.privatelink.blob.core.windows.net.";
        let client = ClientEdns::negotiate(None);
        let big = addresses(name, 60);
        let (wire, udp) = written(&request(name, false), &big, &client, Transport::Udp);
        assert!(udp.truncated);
        let message = Message::from_vec(&wire).unwrap();
        assert!(message.metadata.truncation && message.answers.is_empty());
        let (wire, tcp) = written(&request(name, false), &big, &client, Transport::Tcp);
        assert!(!tcp.truncated);
        assert_eq!(Message::from_vec(&wire).unwrap().answers.len(), 60);
        // With EDNS the client may receive 1232 bytes: 60 addresses fit.
        let edns = ClientEdns::negotiate(Some(&large_edns()));
        let (wire, fits) = written(&request(name, true), &big, &edns, Transport::Udp);
        assert!(!fits.truncated && wire.len() <= 1232);
        assert!(Message::from_vec(&wire).unwrap().edns.is_some());
    }
}
