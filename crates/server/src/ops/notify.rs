//! DNS NOTIFY (RFC 1996): telling secondaries that a zone changed, so that
//! they transfer it now rather than at their next SOA refresh (an hour with
//! Azure's SOA values).
//!
//! Each (zone, secondary) pair gets its own task: a NOTIFY over UDP from a
//! fresh socket, repeated until the secondary acknowledges it (a response
//! with the same id and opcode) or the tries run out. A secondary that is
//! down costs nothing but a few datagrams; it refreshes on its own later.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use privatelink_mapping::DomainName;
use tokio::net::UdpSocket;
use tokio::time::timeout;
use tracing::{debug, info, warn};

use std::sync::Arc;

use crate::store::{Snapshot, Transfers};
use crate::wire::tsig_sign::{self, Signer, SigningKey};

/// Tries per secondary, and how long each waits for the acknowledgement.
const TRIES: u32 = 5;
const WAIT: Duration = Duration::from_secs(2);

/// Sends NOTIFY for every zone in `zones` to every secondary of
/// `transfers`, in the background; signed with the TSIG key its
/// `allow_transfer` entry requires, if any.
pub(crate) fn notify_all(zones: &[DomainName], transfers: &Transfers) {
    for zone in zones {
        let Ok(apex) = Name::from_ascii(format!("{zone}.")) else {
            continue;
        };
        for &target in &transfers.notify {
            let apex = apex.clone();
            let key = transfers.key_for(target.ip());
            tokio::spawn(async move {
                match notify(&apex, target, key).await {
                    Ok(tries) => {
                        info!(zone = %apex, secondary = %target, tries, "secondary notified");
                    }
                    Err(error) => warn!(
                        zone = %apex,
                        secondary = %target,
                        %error,
                        "the secondary did not acknowledge NOTIFY; it will refresh on its own"
                    ),
                }
            });
        }
    }
}

/// Sends NOTIFY for every zone of `snapshot` to its secondaries, when
/// transfers are on.
pub(crate) fn notify_every_zone(snapshot: &Snapshot) {
    if snapshot.transfers.notify.is_empty() || !snapshot.transfers.enabled() {
        return;
    }
    // A view's own zones too: a secondary in that view transfers them; and
    // the catalog, which a secondary may hold alone.
    let mut zones: Vec<DomainName> = std::iter::once(snapshot)
        .chain(snapshot.views().iter().map(|view| &**view))
        .flat_map(|served| {
            let catalog = served.mapping.catalog().map(|catalog| catalog.apex.clone());
            let zones = served.mapping.zones().iter().map(|zone| zone.apex.clone());
            zones.chain(catalog)
        })
        .collect();
    zones.sort();
    zones.dedup();
    notify_all(&zones, &snapshot.transfers);
}

/// One NOTIFY exchange, retried; returns the number of tries it took.
async fn notify(
    apex: &Name,
    target: SocketAddr,
    key: Option<Arc<SigningKey>>,
) -> std::io::Result<u32> {
    let local: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(target).await?;
    let id: u16 = rand::random();
    let mut wire = notify_message(id, apex)
        .to_vec()
        .map_err(|error| std::io::Error::other(error.to_string()))?;
    if let Some(key) = key {
        Signer::request(key, id).sign(&mut wire, tsig_sign::now(), 0, &[]);
    }
    let mut buffer = [0u8; 512];
    for attempt in 1..=TRIES {
        socket.send(&wire).await?;
        let deadline = tokio::time::Instant::now() + WAIT;
        // Read until the acknowledgement or the deadline; anything else
        // (a stray datagram, an ICMP error) does not end the try.
        while let Ok(received) = timeout(
            deadline.saturating_duration_since(tokio::time::Instant::now()),
            socket.recv(&mut buffer),
        )
        .await
        {
            match received {
                Ok(length) if acknowledges(&buffer[..length], id) => return Ok(attempt),
                Ok(_) => {
                    debug!(secondary = %target, "ignoring a datagram that is not our NOTIFY's answer");
                }
                Err(error) => {
                    // Refused (nothing listens there yet): wait out this
                    // try, so the tries span a restart of the secondary.
                    debug!(secondary = %target, %error, "NOTIFY not delivered");
                    tokio::time::sleep_until(deadline).await;
                    break;
                }
            }
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no answer after {TRIES} tries"),
    ))
}

/// The NOTIFY message for a zone: opcode NOTIFY, AA, the apex SOA as question.
fn notify_message(id: u16, apex: &Name) -> Message {
    let mut message = Message::new(id, MessageType::Query, OpCode::Notify);
    message.metadata.authoritative = true;
    message.add_query(Query::query(apex.clone(), RecordType::SOA));
    message
}

/// True when `wire` is the response to the NOTIFY with `id`.
fn acknowledges(wire: &[u8], id: u16) -> bool {
    Message::from_vec(wire).is_ok_and(|answer| {
        answer.metadata.id == id
            && answer.metadata.message_type == MessageType::Response
            && answer.metadata.op_code == OpCode::Notify
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notify_names_the_zone_soa_and_is_authoritative() {
        let apex = Name::from_ascii("privatelink.blob.core.windows.net.").unwrap();
        let message = notify_message(7, &apex);
        let decoded = Message::from_vec(&message.to_vec().unwrap()).unwrap();
        assert_eq!(decoded.metadata.op_code, OpCode::Notify);
        assert!(decoded.metadata.authoritative);
        assert_eq!(decoded.queries.len(), 1);
        assert_eq!(decoded.queries[0].query_type(), RecordType::SOA);
        assert_eq!(decoded.queries[0].name(), &apex);
    }

    #[test]
    fn only_a_response_with_our_id_acknowledges() {
        let apex = Name::from_ascii("privatelink.blob.core.windows.net.").unwrap();
        let mut answer = notify_message(7, &apex);
        assert!(
            !acknowledges(&answer.to_vec().unwrap(), 7),
            "a query is no answer"
        );
        answer.metadata.message_type = MessageType::Response;
        assert!(acknowledges(&answer.to_vec().unwrap(), 7));
        assert!(!acknowledges(&answer.to_vec().unwrap(), 8));
        assert!(!acknowledges(b"garbage", 7));
    }
}
