//! Zone transfers out (RFC 5936), so that existing DNS servers can hold
//! secondary copies of the served zones.
//!
//! Only clients in `server.allow_transfer` may transfer (none by default).
//! AXFR is served over TCP; IXFR (`ixfr.rs`) over both, with the changes
//! since the client's serial when the zone's history reaches it. Zone data comes from the query's one snapshot, so
//! a transfer never mixes two mapping versions.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::LowerName;
use hickory_proto::rr::{DNSClass, RecordType};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use privatelink_mapping::DomainName;
use tracing::info;

use crate::observe::log_budget::LogBudget;

pub(crate) use super::messages::{Transfer, ZoneMessages};
use crate::reply::{Outcome, Reply};
use crate::store::Snapshot;
use crate::wire::lookup_key;

/// True when `request` asks for a zone transfer: one AXFR or IXFR question
/// of class IN in a QUERY.
pub(crate) fn is_transfer(request: &Request) -> bool {
    let [query] = request.queries.queries() else {
        return false;
    };
    request.metadata.op_code == hickory_proto::op::OpCode::Query
        && matches!(query.query_type(), RecordType::AXFR | RecordType::IXFR)
        && query.query_class() == DNSClass::IN
}

/// What answers `request` when it asks for a zone transfer; `None` when it
/// does not (the handler answers it as any query).
pub(crate) fn respond<'s>(
    request: &Request,
    snapshot: &'s Snapshot,
    signed: Option<&DomainName>,
) -> Option<Transfer<'s>> {
    let [query] = request.queries.queries() else {
        return None;
    };
    if !is_transfer(request) {
        return None;
    }
    let rtype = query.query_type();
    let refused = || {
        Some(Transfer::Single(Reply::error(
            Outcome::Refused,
            ResponseCode::Refused,
        )))
    };
    if !snapshot.transfers.allows(request.src().ip(), signed) {
        refusal(request, snapshot, signed, query.name());
        return refused();
    }
    let key = lookup_key(query.name());
    if let Some(transfer) = super::catalog::transfer(request, snapshot, &key, rtype) {
        return Some(transfer);
    }
    let Some(zone) = snapshot
        .mapping
        .zone_for(&key)
        .filter(|zone| zone.apex.as_str() == key)
    else {
        // RFC 5936 §2.2.1: not authoritative for that zone.
        return Some(Transfer::Single(Reply::error(
            Outcome::NotAuth,
            ResponseCode::NotAuth,
        )));
    };
    let prepared = snapshot.zone_records(zone)?;
    match (request.protocol(), rtype) {
        (_, RecordType::IXFR) => Some(super::ixfr::respond(request, snapshot, zone, prepared)),
        (Protocol::Udp, _) => refused(),
        _ => Some(Transfer::Zone(ZoneMessages::new(
            zone,
            prepared,
            snapshot.mapping.names_in(zone),
        ))),
    }
}

/// Says in the log why a transfer was refused: who operators would
/// otherwise look for in a secondary's log.
fn refusal(request: &Request, snapshot: &Snapshot, signed: Option<&DomainName>, zone: &LowerName) {
    // Anyone can ask: at most ten lines a minute.
    static REFUSALS: LogBudget = LogBudget::new(10, std::time::Duration::from_secs(60));
    let Some(not_logged_before) = REFUSALS.admit(std::time::Instant::now()) else {
        return;
    };
    let client = request.src().ip();
    let needed = snapshot.transfers.required_key(client);
    match (needed, signed) {
        (None, _) => {
            info!(client = %client, zone = %zone, not_logged_before, "zone transfer refused: the client is not in server.allow_transfer");
        }
        (Some(key), None) => {
            info!(client = %client, zone = %zone, key = %key, not_logged_before, "zone transfer refused: the client must sign with its TSIG key");
        }
        (Some(key), Some(other)) => {
            info!(client = %client, zone = %zone, key = %key, signed_with = %other, not_logged_before, "zone transfer refused: signed with another key than the one required");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, Record};

    use super::*;
    use crate::resolve::messages::RECORDS_PER_MESSAGE;
    use crate::wire::Transport;
    use crate::wire::edns::ClientEdns;

    fn snapshot(records: &str) -> Snapshot {
        let text = format!(
            "[server]\nallow_transfer = [\"127.0.0.1\"]\n[forward]\nupstreams = []\n[records]\n{records}"
        );
        Snapshot::new(privatelink_mapping::load_str("t.toml", &text).unwrap(), 1).unwrap()
    }

    fn asking(zone: &str, rtype: RecordType, protocol: Protocol) -> Request {
        let mut message = Message::new(9, MessageType::Query, OpCode::Query);
        message.add_query(Query::query(Name::from_ascii(zone).unwrap(), rtype));
        let peer = SocketAddr::from(([127, 0, 0, 1], 5353));
        Request::from_bytes(message.to_vec().unwrap(), peer, protocol).unwrap()
    }

    #[test]
    fn a_name_with_many_addresses_is_split_across_messages_that_fit() {
        let many: Vec<String> = (0..450)
            .map(|i| format!("\"10.1.{}.{}\"", i / 250, i % 250 + 1))
            .collect();
        let snapshot = snapshot(&format!(
            "\"a.privatelink.blob.core.windows.net\" = \"10.0.0.1\"\n\"many.privatelink.blob.core.windows.net\" = [{}, \"fd00::1\"]\n",
            many.join(", ")
        ));
        let request = asking(
            "privatelink.blob.core.windows.net.",
            RecordType::AXFR,
            Protocol::Tcp,
        );
        let Some(Transfer::Zone(messages)) = respond(&request, &snapshot, None) else {
            panic!("a whole-zone transfer");
        };
        let replies: Vec<Reply> = messages.collect();
        assert_eq!(replies.len(), 3, "455 records in messages of 200");
        let all: Vec<&Record> = replies.iter().flat_map(|r| &r.answers).collect();
        // SOA, NS, a, 450 + 1 for `many`, SOA.
        assert_eq!(all.len(), 455);
        assert_eq!(all[0].record_type(), RecordType::SOA);
        assert_eq!(all[1].record_type(), RecordType::NS);
        assert_eq!(
            all[2].name.to_ascii(),
            "a.privatelink.blob.core.windows.net."
        );
        assert_eq!(all[453].record_type(), RecordType::AAAA);
        assert_eq!(all[454].record_type(), RecordType::SOA);
        let client = ClientEdns::negotiate(None);
        for reply in &replies {
            assert!(reply.answers.len() <= RECORDS_PER_MESSAGE);
            let mut wire = Vec::new();
            let encoded = crate::reply::encode(&mut wire, &request, reply, &client, Transport::Tcp);
            assert_eq!(encoded.rcode, ResponseCode::NoError);
            assert!(Message::from_vec(&wire).is_ok());
        }
    }

    #[test]
    fn a_small_zone_is_one_message() {
        let snapshot = snapshot("\"a.privatelink.blob.core.windows.net\" = \"10.0.0.1\"\n");
        let request = asking(
            "privatelink.blob.core.windows.net.",
            RecordType::AXFR,
            Protocol::Tcp,
        );
        let Some(Transfer::Zone(messages)) = respond(&request, &snapshot, None) else {
            panic!("a whole-zone transfer");
        };
        let replies: Vec<Reply> = messages.collect();
        assert_eq!(replies.len(), 1);
        let types: Vec<RecordType> = replies[0].answers.iter().map(Record::record_type).collect();
        assert_eq!(
            types,
            [
                RecordType::SOA,
                RecordType::NS,
                RecordType::A,
                RecordType::SOA
            ]
        );
        // Not a transfer: left to the handler.
        let plain = asking(
            "privatelink.blob.core.windows.net.",
            RecordType::SOA,
            Protocol::Tcp,
        );
        assert!(respond(&plain, &snapshot, None).is_none());
    }
}
