//! EDNS(0) for responses (RFC 6891). hickory-server leaves this to custom
//! handlers: its `Catalog` does it, its `Server` does not.

use hickory_proto::op::Edns;

/// The UDP payload size this server advertises, and the most it sends over
/// UDP: the DNS Flag Day 2020 value, small enough to avoid IP fragmentation.
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// What the client's OPT record (or its absence) means for the response.
#[derive(Debug, Clone)]
pub(crate) struct ClientEdns {
    /// The OPT record to send back, when the client sent one.
    pub(crate) response_opt: Option<Edns>,
    /// The largest UDP response this client may receive.
    pub(crate) udp_limit: usize,
    pub(crate) dnssec_ok: bool,
    /// The client used an EDNS version we do not speak: answer BADVERS.
    pub(crate) bad_version: bool,
}

impl ClientEdns {
    pub(crate) fn negotiate(request: Option<&Edns>) -> Self {
        let Some(request) = request else {
            // RFC 1035 §4.2.1: without EDNS, UDP messages are at most 512 bytes.
            return Self {
                response_opt: None,
                udp_limit: 512,
                dnssec_ok: false,
                bad_version: false,
            };
        };
        let dnssec_ok = request.flags().dnssec_ok;
        let mut opt = Edns::new();
        opt.set_max_payload(MAX_UDP_PAYLOAD);
        opt.set_version(0);
        // RFC 3225 §3: the DO bit is copied into the response.
        opt.set_dnssec_ok(dnssec_ok);
        // Payload sizes below 512 are treated as 512 (RFC 6891 §6.2.5).
        let udp_limit = request.max_payload().clamp(512, MAX_UDP_PAYLOAD);
        Self {
            response_opt: Some(opt),
            udp_limit: usize::from(udp_limit),
            dnssec_ok,
            bad_version: request.version() > 0,
        }
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
        assert!(client.response_opt.is_none());
        assert_eq!(client.udp_limit, 512);
        assert!(!client.bad_version);
    }

    #[test]
    fn payload_is_clamped_and_do_copied() {
        let client = ClientEdns::negotiate(Some(&edns(4096, 0, true)));
        assert_eq!(client.udp_limit, 1232);
        let opt = client.response_opt.unwrap();
        assert_eq!(opt.max_payload(), MAX_UDP_PAYLOAD);
        assert!(opt.flags().dnssec_ok);
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
        let client = ClientEdns::negotiate(Some(&edns(1232, 1, false)));
        assert!(client.bad_version);
        assert_eq!(client.response_opt.unwrap().version(), 0);
    }
}
