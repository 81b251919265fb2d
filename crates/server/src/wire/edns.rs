//! EDNS(0) for responses (RFC 6891), decided once for both the prepared
//! answers and the reference encoder: whether an OPT goes back, what it
//! says, and how large a UDP response may be. hickory-server leaves this to
//! custom handlers: its `Catalog` does it, its `Server` does not.

use hickory_proto::op::Edns;

use super::{TYPE_OPT, Transport};

/// The UDP payload size this server advertises, and the most it sends over
/// UDP: the DNS Flag Day 2020 value, small enough to avoid IP fragmentation.
pub(crate) const MAX_UDP_PAYLOAD: u16 = 1232;

/// What the client's OPT record (or its absence) means for the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientEdns {
    /// The client sent an OPT record, so one goes back.
    pub(crate) present: bool,
    /// The largest UDP response this client may receive.
    pub(crate) udp_limit: usize,
    pub(crate) dnssec_ok: bool,
    /// The client used an EDNS version we do not speak: answer BADVERS.
    pub(crate) bad_version: bool,
}

impl ClientEdns {
    /// From a decoded query's OPT.
    pub(crate) fn negotiate(request: Option<&Edns>) -> Self {
        match request {
            None => Self::without_opt(),
            Some(edns) => {
                Self::with_opt(edns.max_payload(), edns.flags().dnssec_ok, edns.version())
            }
        }
    }

    /// From a plain query's OPT (payload, DO), read without hickory.
    pub(crate) fn plain(opt: Option<(u16, bool)>) -> Self {
        match opt {
            None => Self::without_opt(),
            Some((payload, dnssec_ok)) => Self::with_opt(payload, dnssec_ok, 0),
        }
    }

    fn without_opt() -> Self {
        // RFC 1035 §4.2.1: without EDNS, UDP messages are at most 512 bytes.
        Self {
            present: false,
            udp_limit: 512,
            dnssec_ok: false,
            bad_version: false,
        }
    }

    fn with_opt(payload: u16, dnssec_ok: bool, version: u8) -> Self {
        Self {
            present: true,
            // Payload sizes below 512 are treated as 512 (RFC 6891 §6.2.5).
            udp_limit: usize::from(payload.clamp(512, MAX_UDP_PAYLOAD)),
            dnssec_ok,
            bad_version: version > 0,
        }
    }

    /// The largest response that may be sent whole over `transport`.
    pub(crate) fn limit(&self, transport: Transport) -> usize {
        match transport {
            Transport::Udp => self.udp_limit,
            Transport::Tcp => usize::from(u16::MAX),
        }
    }

    /// Appends the response OPT when the client sent one: payload
    /// [`MAX_UDP_PAYLOAD`], version 0, the DO bit copied (RFC 3225 §3), and
    /// the upper bits of `rcode` (BADVERS is 16). Returns the records added.
    pub(crate) fn write_opt(&self, out: &mut Vec<u8>, rcode: u16) -> u16 {
        if !self.present {
            return 0;
        }
        let extended = u8::try_from(rcode >> 4).unwrap_or(u8::MAX);
        out.push(0);
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&MAX_UDP_PAYLOAD.to_be_bytes());
        out.extend_from_slice(&[extended, 0, if self.dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edns(payload: u16, version: u8, dnssec_ok: bool) -> Edns {
        let mut edns = Edns::new();
        edns.set_max_payload(payload);
        edns.set_version(version);
        edns.set_dnssec_ok(dnssec_ok);
        edns
    }

    #[test]
    fn no_opt_means_512_and_no_opt_back() {
        let client = ClientEdns::negotiate(None);
        assert!(!client.present);
        assert_eq!(client.udp_limit, 512);
        assert_eq!(client.limit(Transport::Tcp), 65535);
        assert!(!client.bad_version);
        assert_eq!(client.write_opt(&mut Vec::new(), 0), 0);
    }

    #[test]
    fn payload_is_clamped_and_do_copied() {
        let client = ClientEdns::negotiate(Some(&edns(4096, 0, true)));
        assert_eq!(client.udp_limit, 1232);
        assert_eq!(client, ClientEdns::plain(Some((4096, true))));
        let mut opt = Vec::new();
        assert_eq!(client.write_opt(&mut opt, 16), 1);
        assert_eq!(opt, [0, 0, 41, 0x04, 0xD0, 1, 0, 0x80, 0, 0, 0]);
        assert_eq!(
            ClientEdns::negotiate(Some(&edns(100, 0, false))).udp_limit,
            512
        );
        assert_eq!(
            ClientEdns::negotiate(Some(&edns(800, 0, false))).udp_limit,
            800
        );
    }

    #[test]
    fn unknown_versions_are_flagged() {
        assert!(ClientEdns::negotiate(Some(&edns(1232, 1, false))).bad_version);
    }
}
