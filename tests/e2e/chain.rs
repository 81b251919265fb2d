//! Public → privatelink CNAME chains completed with the local answer, as
//! Azure's resolver does, and the same answer synthesised when no upstream
//! can be asked.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::base_config;
use crate::client::{self, a_records, assert_negative_soa};
use crate::fake_upstream::{Behaviour, FakeUpstream, Table};
use crate::harness::TestServer;

/// What Azure's public DNS says about storage accounts with private
/// endpoints: a CNAME into privatelink, then one into the public cluster.
pub fn azure_public_dns() -> Table {
    Table::new()
        .cname(
            "weacct01pod01ecs114.blob.core.windows.net.",
            "weacct01pod01ecs114.privatelink.blob.core.windows.net.",
            60,
        )
        .cname(
            "weacct01pod01ecs114.privatelink.blob.core.windows.net.",
            "blob.ams07prdstr02a.store.core.windows.net.",
            60,
        )
        .a(
            "blob.ams07prdstr02a.store.core.windows.net.",
            "20.60.1.1",
            60,
        )
        // A custom name in front of a storage account: several CNAMEs.
        .cname("files.contoso.com.", "multi.blob.core.windows.net.", 300)
        .cname(
            "multi.blob.core.windows.net.",
            "multi.privatelink.blob.core.windows.net.",
            60,
        )
        .cname(
            "multi.privatelink.blob.core.windows.net.",
            "blob.ams07prdstr02a.store.core.windows.net.",
            60,
        )
        // An account whose private endpoint is not in our mapping.
        .cname(
            "otheracct.blob.core.windows.net.",
            "otheracct.privatelink.blob.core.windows.net.",
            60,
        )
        .cname(
            "otheracct.privatelink.blob.core.windows.net.",
            "blob.ams07prdstr02a.store.core.windows.net.",
            60,
        )
        // A Key Vault whose zone falls back to public resolution.
        .cname(
            "kv2.vault.azure.net.",
            "kv2.privatelink.vaultcore.azure.net.",
            60,
        )
        .cname(
            "kv2.privatelink.vaultcore.azure.net.",
            "data.vaultcore.azure.net.",
            60,
        )
        .a("data.vaultcore.azure.net.", "52.1.2.3", 60)
}

/// A server forwarding to a fake of Azure's public DNS.
fn online() -> (TestServer, FakeUpstream) {
    let upstream = FakeUpstream::answering(azure_public_dns());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    (server, upstream)
}

#[track_caller]
fn assert_no_public_tail(response: &Message) {
    for record in response
        .answers
        .iter()
        .chain(&response.authorities)
        .chain(&response.additionals)
    {
        let name = record.name.to_ascii();
        assert!(
            !name.contains("store.core.windows.net"),
            "public tail leaked: {record}"
        );
        if let RData::CNAME(target) = &record.data {
            assert!(
                !target.0.to_ascii().contains("store.core.windows.net"),
                "public tail leaked: {record}"
            );
        }
        assert!(
            !matches!(&record.data, RData::A(a) if a.0.octets()[0] == 20),
            "public IP leaked: {record}"
        );
    }
}

/// The CNAME targets in the answer section, in order.
fn cname_chain(response: &Message) -> Vec<(String, String)> {
    response
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::CNAME(target) => Some((r.name.to_ascii(), target.0.to_ascii())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_public_storage_name_resolves_to_the_private_ip() {
    let (server, _upstream) = online();
    let query = client::query("weacct01pod01ecs114.blob.core.windows.net.", RecordType::A);
    for response in [
        client::udp(server.addr, &query),
        client::tcp(server.addr, &query),
    ] {
        assert_eq!(response.metadata.response_code, ResponseCode::NoError);
        assert!(!response.metadata.authoritative);
        assert!(response.metadata.recursion_available);
        assert_eq!(
            cname_chain(&response),
            [(
                "weacct01pod01ecs114.blob.core.windows.net.".to_owned(),
                "weacct01pod01ecs114.privatelink.blob.core.windows.net.".to_owned()
            )]
        );
        assert_eq!(response.answers.len(), 2);
        let private = &response.answers[1];
        assert_eq!(
            private.name,
            Name::from_ascii("weacct01pod01ecs114.privatelink.blob.core.windows.net.").unwrap()
        );
        assert_eq!(private.ttl, 10);
        assert_eq!(a_records(&response), ["10.10.0.12"]);
        assert!(response.authorities.is_empty());
        assert_no_public_tail(&response);
    }
}

#[test]
fn chains_through_several_cnames_keep_every_link_up_to_the_private_name() {
    let (server, _upstream) = online();
    let response = client::udp(
        server.addr,
        &client::query("files.contoso.com.", RecordType::A),
    );
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        cname_chain(&response),
        [
            (
                "files.contoso.com.".to_owned(),
                "multi.blob.core.windows.net.".to_owned()
            ),
            (
                "multi.blob.core.windows.net.".to_owned(),
                "multi.privatelink.blob.core.windows.net.".to_owned()
            ),
        ]
    );
    let mut ips = a_records(&response);
    ips.sort();
    assert_eq!(ips, ["10.10.0.30", "10.10.0.31"]);
    assert_eq!(
        response.answers[0].ttl, 300,
        "upstream TTLs kept on the chain"
    );
    assert_no_public_tail(&response);
}

#[test]
fn an_unmapped_private_target_is_nxdomain_with_the_zone_soa() {
    let (server, _upstream) = online();
    let response = client::udp(
        server.addr,
        &client::query("otheracct.blob.core.windows.net.", RecordType::A),
    );
    assert_eq!(response.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(cname_chain(&response).len(), 1);
    assert_negative_soa(&response, "privatelink.blob.core.windows.net.");
    assert_no_public_tail(&response);
}

#[test]
fn other_types_at_a_mapped_private_target_are_nodata() {
    let (server, _upstream) = online();
    let response = client::udp(
        server.addr,
        &client::query(
            "weacct01pod01ecs114.blob.core.windows.net.",
            RecordType::AAAA,
        ),
    );
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert_eq!(cname_chain(&response).len(), 1);
    assert!(a_records(&response).is_empty());
    assert_negative_soa(&response, "privatelink.blob.core.windows.net.");
    assert_no_public_tail(&response);
}

#[test]
fn a_zone_that_falls_back_keeps_the_public_answer() {
    let (server, _upstream) = online();
    let response = client::udp(
        server.addr,
        &client::query("kv2.vault.azure.net.", RecordType::A),
    );
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert_eq!(cname_chain(&response).len(), 2);
    assert_eq!(a_records(&response), ["52.1.2.3"]);
}

#[test]
fn a_cname_query_is_answered_as_the_upstream_gave_it() {
    let (server, _upstream) = online();
    let response = client::udp(
        server.addr,
        &client::query(
            "weacct01pod01ecs114.blob.core.windows.net.",
            RecordType::CNAME,
        ),
    );
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert_eq!(cname_chain(&response).len(), 1);
    assert_eq!(response.answers.len(), 1);
}

#[test]
fn offline_the_public_twin_of_a_mapped_name_is_synthesised() {
    let server = TestServer::start(&base_config(&[]));
    let a = client::udp(
        server.addr,
        &client::query("WeAcct01Pod01Ecs114.blob.core.windows.net.", RecordType::A),
    );
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert!(!a.metadata.authoritative);
    assert_eq!(
        cname_chain(&a),
        [(
            "WeAcct01Pod01Ecs114.blob.core.windows.net.".to_owned(),
            "weacct01pod01ecs114.privatelink.blob.core.windows.net.".to_owned()
        )]
    );
    assert_eq!(a_records(&a), ["10.10.0.12"]);
    assert!(a.answers.iter().all(|r| r.ttl == 10));

    let queue = client::udp(
        server.addr,
        &client::query("weacct01pod01ecs114.queue.core.windows.net.", RecordType::A),
    );
    assert_eq!(a_records(&queue), ["10.10.0.13"]);
    let kv = client::udp(
        server.addr,
        &client::query("kv1.vault.azure.net.", RecordType::A),
    );
    assert_eq!(
        a_records(&kv),
        ["10.10.0.40"],
        "Key Vault's vault.azure.net names point into vaultcore"
    );

    let aaaa = client::udp(
        server.addr,
        &client::query(
            "weacct01pod01ecs114.blob.core.windows.net.",
            RecordType::AAAA,
        ),
    );
    assert_eq!(aaaa.metadata.response_code, ResponseCode::NoError);
    assert_eq!(cname_chain(&aaaa).len(), 1);
    assert_negative_soa(&aaaa, "privatelink.blob.core.windows.net.");

    // No mapped twin: offline means SERVFAIL.
    let unknown = client::udp(
        server.addr,
        &client::query("otheracct.blob.core.windows.net.", RecordType::A),
    );
    assert_eq!(unknown.metadata.response_code, ResponseCode::ServFail);
    // Backup names get no public CNAME from Azure, so none is made up.
    let backup = client::udp(
        server.addr,
        &client::query(
            "1132794570626989392-ab-pod01-fab1.we.backup.windowsazure.com.",
            RecordType::A,
        ),
    );
    assert_eq!(backup.metadata.response_code, ResponseCode::ServFail);
}

#[test]
fn when_no_upstream_answers_the_twin_is_synthesised() {
    let upstream = FakeUpstream::start(Behaviour::Hang, azure_public_dns());
    let config = base_config(&[upstream.addr]).replace("timeout_ms = 2000", "timeout_ms = 300");
    let server = TestServer::start(&config);
    let response = client::udp(
        server.addr,
        &client::query("weacct01pod01ecs114.blob.core.windows.net.", RecordType::A),
    );
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert_eq!(a_records(&response), ["10.10.0.12"]);
    assert_eq!(
        upstream.queries(),
        2,
        "the upstream was asked first (twice)"
    );
}

/// Completed chains answered again from the UDP workers' kept responses
/// follow a mapping reload at once: the local part is never stale.
#[test]
fn a_reload_changes_a_completed_chain_at_once() {
    let upstream = FakeUpstream::answering(azure_public_dns());
    let config = |ip: &str| {
        base_config(&[upstream.addr])
            .replace("[server]", "[server]\nwatch = false")
            .replace("blob = \"10.10.0.12\"", &format!("blob = \"{ip}\""))
    };
    let server = TestServer::start(&config("10.10.0.12"));
    let query = client::query("weacct01pod01ecs114.blob.core.windows.net.", RecordType::A);
    for _ in 0..4 {
        let response = client::udp(server.addr, &query);
        assert_eq!(a_records(&response), ["10.10.0.12"]);
        assert_eq!(response.answers[0].ttl, 60, "the public CNAME, fresh");
        assert_eq!(response.answers[1].ttl, 10, "the local record");
        assert_no_public_tail(&response);
    }
    assert_eq!(upstream.queries(), 1);
    std::fs::write(server.config(), config("10.10.9.9")).unwrap();
    server.signal("HUP");
    server.wait_for_log("mapping reloaded", std::time::Duration::from_secs(5));
    let response = client::udp(server.addr, &query);
    assert_eq!(a_records(&response), ["10.10.9.9"]);
    assert_eq!(cname_chain(&response).len(), 1);
    assert_eq!(upstream.queries(), 1, "the cached CNAME, completed anew");
}
