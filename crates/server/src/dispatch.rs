//! From raw bytes to the handler, for our UDP and TCP listeners alike: what
//! hickory-server's own loops would do before calling a `RequestHandler`.
//! Messages shorter than a header and responses (QR=1) are dropped; a
//! message whose header decodes but whose body does not gets FORMERR.

use std::net::SocketAddr;

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;

use crate::handler::Handler;
use crate::memo::MemoKey;
use crate::reply::Outcome;

/// Where a response goes: sends one encoded message back to the client.
#[async_trait::async_trait]
pub(crate) trait RawSend: Send {
    async fn send_raw(&mut self, wire: Vec<u8>);
}

/// The transport label of a protocol.
pub(crate) fn transport(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Udp => "udp",
        Protocol::Tcp => "tcp",
        _ => "other",
    }
}

/// Handles one received message from `peer`; `memo` as for [`Handler::handle`].
pub(crate) async fn dispatch<R: RawSend>(
    message: Vec<u8>,
    peer: SocketAddr,
    protocol: Protocol,
    handler: &Handler,
    mut responder: R,
    memo: Option<MemoKey>,
) {
    // A reply to port 0 or to an unspecified address cannot be delivered.
    if peer.port() == 0 || peer.ip().is_unspecified() {
        return;
    }
    let header =
        (message.len() >= 12).then(|| (u16::from_be_bytes([message[0], message[1]]), message[2]));
    match Request::from_bytes(message, peer, protocol) {
        Ok(request)
            if request.metadata.message_type == hickory_proto::op::MessageType::Response => {}
        Ok(request) => {
            handler.handle(&request, responder, memo).await;
        }
        Err(_) => {
            let Some((id, flags)) = header.filter(|(_, flags)| flags & 0x80 == 0) else {
                return;
            };
            handler
                .metrics()
                .query(transport(protocol), Outcome::FormErr, ResponseCode::FormErr);
            let mut formerr = Message::error_msg(
                id,
                OpCode::from_u8((flags >> 3) & 0x0f),
                ResponseCode::FormErr,
            );
            formerr.metadata.recursion_desired = flags & 0x01 == 1;
            if let Ok(wire) = formerr.to_vec() {
                responder.send_raw(wire).await;
            }
        }
    }
}
