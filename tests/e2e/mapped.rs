//! Authoritative answers, field by field (design §2).

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};

use crate::client::{self, a_records, assert_authoritative, assert_negative_soa, assert_soa};
use crate::fake_upstream::{FakeUpstream, Table};
use crate::harness::TestServer;
use crate::{FAB1, base_config};

fn server() -> (TestServer, FakeUpstream) {
    let upstream = FakeUpstream::answering(Table::new().a(
        "nosuch.privatelink.vaultcore.azure.net.",
        "52.1.2.3",
        60,
    ));
    let server = TestServer::start(&base_config(&[upstream.addr]));
    (server, upstream)
}

#[test]
fn a_for_a_vault_name_is_the_mapped_ip_with_ttl_10_over_udp_and_tcp() {
    let (server, upstream) = server();
    let query = client::query(FAB1, RecordType::A);
    for response in [
        client::udp(server.addr, &query),
        client::tcp(server.addr, &query),
    ] {
        assert_authoritative(&response, ResponseCode::NoError);
        assert_eq!(response.queries, query.queries, "question echoed");
        assert_eq!(response.answers.len(), 1);
        let answer = &response.answers[0];
        assert_eq!(answer.name, Name::from_ascii(FAB1).unwrap());
        assert_eq!(answer.ttl, 10);
        assert_eq!(a_records(&response), ["10.10.0.4"]);
        assert!(response.authorities.is_empty());
        let edns = response.edns.as_ref().expect("OPT in the response");
        assert_eq!(edns.max_payload(), 1232);
        assert_eq!(edns.version(), 0);
    }
    assert_eq!(upstream.queries(), 0, "mapped names are never forwarded");
}

#[test]
fn storage_names_and_records_with_several_ips() {
    let (server, _upstream) = server();
    let blob = client::udp(
        server.addr,
        &client::query(
            "weacct01pod01ecs114.privatelink.blob.core.windows.net.",
            RecordType::A,
        ),
    );
    assert_authoritative(&blob, ResponseCode::NoError);
    assert_eq!(a_records(&blob), ["10.10.0.12"]);
    let queue = client::udp(
        server.addr,
        &client::query(
            "weacct01pod01ecs114.privatelink.queue.core.windows.net.",
            RecordType::A,
        ),
    );
    assert_eq!(a_records(&queue), ["10.10.0.13"]);
    let multi = client::udp(
        server.addr,
        &client::query("multi.privatelink.blob.core.windows.net.", RecordType::A),
    );
    assert_authoritative(&multi, ResponseCode::NoError);
    let mut ips = a_records(&multi);
    ips.sort();
    assert_eq!(ips, ["10.10.0.30", "10.10.0.31"]);
    assert!(multi.answers.iter().all(|r| r.ttl == 10));
}

#[test]
fn names_match_case_insensitively_and_keep_the_query_case() {
    let (server, _upstream) = server();
    let mixed = "1132794570626989392-AB-Pod01-FAB1.PrivateLink.WE.Backup.WindowsAzure.com.";
    let query = client::query(mixed, RecordType::A);
    let response = client::udp(server.addr, &query);
    assert_authoritative(&response, ResponseCode::NoError);
    assert!(
        response.queries[0]
            .name()
            .eq_case(&Name::from_ascii(mixed).unwrap()),
        "question keeps its case"
    );
    assert!(
        response.answers[0]
            .name
            .eq_case(&Name::from_ascii(mixed).unwrap()),
        "owner keeps the query's case"
    );
    assert_eq!(a_records(&response), ["10.10.0.4"]);
}

#[test]
fn other_types_at_a_mapped_name_are_nodata_with_the_soa_and_never_forwarded() {
    let (server, upstream) = server();
    for rtype in [
        RecordType::AAAA,
        RecordType::TXT,
        RecordType::MX,
        RecordType::CNAME,
    ] {
        let response = client::udp(server.addr, &client::query(FAB1, rtype));
        assert_authoritative(&response, ResponseCode::NoError);
        assert!(response.answers.is_empty(), "{rtype}: no answers");
        assert_negative_soa(&response, "privatelink.we.backup.windowsazure.com.");
    }
    assert_eq!(upstream.queries(), 0);
}

#[test]
fn unmapped_names_in_served_zones_are_nxdomain_with_the_soa() {
    let (server, upstream) = server();
    for (name, apex) in [
        (
            "nosuch.privatelink.blob.core.windows.net.",
            "privatelink.blob.core.windows.net.",
        ),
        (
            "1132794570626989392-ab-pod01-id1.privatelink.we.backup.windowsazure.com.",
            "privatelink.we.backup.windowsazure.com.",
        ),
        (
            "x.multi.privatelink.blob.core.windows.net.",
            "privatelink.blob.core.windows.net.",
        ),
    ] {
        for rtype in [RecordType::A, RecordType::AAAA] {
            let response = client::udp(server.addr, &client::query(name, rtype));
            assert_authoritative(&response, ResponseCode::NXDomain);
            assert!(response.answers.is_empty());
            assert_negative_soa(&response, apex);
        }
    }
    assert_eq!(
        upstream.queries(),
        0,
        "NXDOMAIN in a served zone is never forwarded"
    );
}

#[test]
fn empty_non_terminals_are_nodata_not_nxdomain() {
    let (server, _upstream) = server();
    let response = client::udp(
        server.addr,
        &client::query("deep.privatelink.blob.core.windows.net.", RecordType::A),
    );
    assert_authoritative(&response, ResponseCode::NoError);
    assert!(response.answers.is_empty());
    assert_negative_soa(&response, "privatelink.blob.core.windows.net.");
}

#[test]
fn apex_soa_and_ns_carry_azures_values_and_our_hostname() {
    let (server, upstream) = server();
    let apex = "privatelink.blob.core.windows.net.";
    let soa = client::udp(server.addr, &client::query(apex, RecordType::SOA));
    assert_authoritative(&soa, ResponseCode::NoError);
    assert_eq!(soa.answers.len(), 1);
    assert_soa(&soa.answers[0], apex, 3600);
    assert!(soa.authorities.is_empty());

    let ns = client::tcp(server.addr, &client::query(apex, RecordType::NS));
    assert_authoritative(&ns, ResponseCode::NoError);
    assert_eq!(ns.answers.len(), 1);
    let RData::NS(target) = &ns.answers[0].data else {
        panic!("not NS: {ns}");
    };
    assert_eq!(target.0, Name::from_ascii("ns1.test.internal.").unwrap());
    assert_eq!(ns.answers[0].ttl, 3600);

    // A at the apex: the name exists, without A data.
    let a = client::udp(server.addr, &client::query(apex, RecordType::A));
    assert_authoritative(&a, ResponseCode::NoError);
    assert!(a.answers.is_empty());
    assert_negative_soa(&a, apex);

    // A declared zone is served even with only one name, and its apex answers too.
    let kv = client::udp(
        server.addr,
        &client::query("privatelink.vaultcore.azure.net.", RecordType::SOA),
    );
    assert_authoritative(&kv, ResponseCode::NoError);
    assert_eq!(upstream.queries(), 0);
}

#[test]
fn a_zone_with_fallback_forward_forwards_only_unmapped_names() {
    let (server, upstream) = server();
    let mapped = client::udp(
        server.addr,
        &client::query("kv1.privatelink.vaultcore.azure.net.", RecordType::A),
    );
    assert_authoritative(&mapped, ResponseCode::NoError);
    assert_eq!(a_records(&mapped), ["10.10.0.40"]);
    assert_eq!(upstream.queries(), 0);

    let unmapped = client::udp(
        server.addr,
        &client::query("nosuch.privatelink.vaultcore.azure.net.", RecordType::A),
    );
    assert_eq!(unmapped.metadata.response_code, ResponseCode::NoError);
    assert!(
        !unmapped.metadata.authoritative,
        "a forwarded answer is not ours"
    );
    assert_eq!(a_records(&unmapped), ["52.1.2.3"]);
    assert_eq!(upstream.queries(), 1);

    // Zones without the setting keep NXDOMAIN.
    let blob = client::udp(
        server.addr,
        &client::query("nosuch.privatelink.blob.core.windows.net.", RecordType::A),
    );
    assert_authoritative(&blob, ResponseCode::NXDomain);
    assert_eq!(upstream.queries(), 1);
}

#[test]
fn a_global_fallback_forward_applies_to_every_zone() {
    let upstream = FakeUpstream::answering(Table::new().a(
        "nosuch.privatelink.blob.core.windows.net.",
        "20.1.2.3",
        60,
    ));
    let config = base_config(&[upstream.addr])
        .replace("[[zone]]", "[zones]\nfallback = \"forward\"\n\n[[zone]]");
    let server = TestServer::start(&config);
    let response = client::udp(
        server.addr,
        &client::query("nosuch.privatelink.blob.core.windows.net.", RecordType::A),
    );
    assert!(!response.metadata.authoritative);
    assert_eq!(a_records(&response), ["20.1.2.3"]);
    assert_eq!(upstream.queries(), 1);
    // Mapped names are still answered locally.
    let fab1 = client::udp(server.addr, &client::query(FAB1, RecordType::A));
    assert_authoritative(&fab1, ResponseCode::NoError);
    assert_eq!(upstream.queries(), 1);
}
