use super::*;
use crate::{Lookup, QueryType, load_str};

const FILE: &str = r#"
[[zone]]
name = "privatelink.queue.core.windows.net"

[[vault]]
name = "rsv-prod-we"
id = "1132794570626989392"
geo = "we"
[vault.backup]
fab1 = "10.10.0.4"
rec2 = "10.10.0.5"

[[vault.storage]]
account = "weacct01pod01ecs114"
role = "ecs"
blob = "10.10.0.12"

[[vault.storage]]
account = "weacct01pod01prot120"
role = "prot"
blob = "10.10.0.14"

[records]
"contosodata01.privatelink.blob.core.windows.net" = "10.10.0.20"
"#;

fn mapping(text: &str) -> Mapping {
    load_str("t.toml", text).unwrap().mapping
}

/// The snippet, with addresses filled in and pasted at the end of the file
/// (one vault, so the end is below it), maps the name.
fn pasted_resolves(text: &str, advice: &Advice, name: &str) -> bool {
    let filled = advice.snippet.replace(IP_PLACEHOLDER, "10.10.0.99");
    let pasted = if advice
        .placement
        .starts_with("add the line to the [records]")
    {
        text.replace("[records]\n", &format!("[records]\n{filled}"))
    } else if advice
        .placement
        .starts_with("add the line to the [[vault.storage]]")
    {
        text.replace(
            "account = \"weacct01pod01ecs114\"\nrole = \"ecs\"\n",
            &format!("account = \"weacct01pod01ecs114\"\nrole = \"ecs\"\n{filled}"),
        )
    } else if advice
        .placement
        .starts_with("add the line to [vault.backup]")
    {
        text.replace("[vault.backup]\n", &format!("[vault.backup]\n{filled}"))
    } else {
        format!("{text}\n{filled}")
    };
    let loaded = load_str("t.toml", &pasted).unwrap_or_else(|e| panic!("{e:?}\n{pasted}"));
    matches!(
        loaded.mapping.lookup(name, QueryType::A),
        Lookup::Answer { .. }
    )
}

#[test]
fn a_new_data_account_belongs_to_the_vault_whose_accounts_share_its_prefix() {
    let name = "weacct01pod01prot121.privatelink.blob.core.windows.net";
    let advice = advise(&mapping(FILE), name, None);
    assert_eq!(advice.kind, MissingKind::BackupStorage);
    assert_eq!(advice.vault.as_deref(), Some("rsv-prod-we"));
    assert_eq!(
        advice.snippet,
        "[[vault.storage]]\naccount = \"weacct01pod01prot121\"\nrole = \"prot\"\nblob = \"<private IP>\"\n"
    );
    assert!(
        advice.placement.contains("rsv-prod-we"),
        "{}",
        advice.placement
    );
    assert!(pasted_resolves(FILE, &advice, name));
}

#[test]
fn the_missing_queue_of_a_declared_account_is_one_line_in_its_entry() {
    let name = "weacct01pod01ecs114.privatelink.queue.core.windows.net";
    let advice = advise(&mapping(FILE), name, None);
    assert_eq!(advice.kind, MissingKind::BackupStorage);
    assert_eq!(advice.snippet, "queue = \"<private IP>\"\n");
    assert!(advice.placement.contains("line 16"), "{}", advice.placement);
    assert!(pasted_resolves(FILE, &advice, name));
}

#[test]
fn a_new_communication_account_gets_blob_and_queue() {
    let file = FILE.replace("weacct01pod01ecs114", "otherpod01ecs1");
    let name = "weacct01pod01ecs115.privatelink.queue.core.windows.net";
    let advice = advise(&mapping(&file), name, None);
    assert_eq!(advice.kind, MissingKind::BackupStorage);
    // One vault in the file: the account is its.
    assert_eq!(advice.vault.as_deref(), Some("rsv-prod-we"));
    assert!(advice.snippet.contains("role = \"ecs\"\nblob = "));
    assert!(advice.snippet.contains("queue = "));
    assert!(pasted_resolves(&file, &advice, name));
}

#[test]
fn with_two_vaults_and_no_shared_prefix_the_vault_is_left_open() {
    let file = FILE.replace("[records]", "[[vault]]\nname = \"rsv-dr-ne\"\nid = \"42\"\ngeo = \"ne\"\n[vault.backup]\nfab1 = \"10.20.0.4\"\n\n[records]");
    let advice = advise(
        &mapping(&file),
        "xyzpod01prot1.privatelink.blob.core.windows.net",
        None,
    );
    assert_eq!(advice.kind, MissingKind::BackupStorage);
    assert_eq!(advice.vault, None);
    assert!(
        advice.placement.contains("one of rsv-prod-we, rsv-dr-ne"),
        "{}",
        advice.placement
    );
}

#[test]
fn a_missing_backup_service_of_a_known_vault_goes_under_its_backup_table() {
    let name = "1132794570626989392-ab-pod01-prot1b.privatelink.we.backup.windowsazure.com";
    let advice = advise(&mapping(FILE), name, None);
    assert_eq!(advice.kind, MissingKind::BackupService);
    assert_eq!(advice.vault.as_deref(), Some("rsv-prod-we"));
    assert_eq!(advice.snippet, "prot1b = \"<private IP>\"\n");
    assert!(pasted_resolves(FILE, &advice, name));
}

#[test]
fn a_backup_name_of_an_unknown_vault_becomes_a_new_vault_entry() {
    let file = format!("[[zone]]\nname = \"privatelink.ne.backup.windowsazure.com\"\n{FILE}");
    let name = "77-ab-pod01-fab1.privatelink.ne.backup.windowsazure.com";
    let advice = advise(&mapping(&file), name, None);
    assert_eq!(advice.kind, MissingKind::BackupService);
    assert_eq!(advice.vault, None);
    assert!(
        advice
            .snippet
            .starts_with("[[vault]]\nname = \"vault-77\"\nid = \"77\"\ngeo = \"ne\"\n")
    );
    // A new vault pasted at the end would take [records] below it: paste
    // before [records] here, as a person would put it with the others.
    let filled = advice.snippet.replace(IP_PLACEHOLDER, "10.30.0.4");
    let pasted = file.replace("[records]", &format!("{filled}\n[records]"));
    let loaded = load_str("t.toml", &pasted).unwrap();
    assert!(matches!(
        loaded.mapping.lookup(name, QueryType::A),
        Lookup::Answer { .. }
    ));
}

#[test]
fn other_names_get_a_records_line_with_the_header_only_when_needed() {
    let name = "somethingelse.privatelink.blob.core.windows.net";
    let advice = advise(&mapping(FILE), name, None);
    assert_eq!(advice.kind, MissingKind::Unknown);
    assert_eq!(advice.snippet, format!("\"{name}\" = \"<private IP>\"\n"));
    assert!(pasted_resolves(FILE, &advice, name));

    let bare = "[[zone]]\nname = \"privatelink.vaultcore.azure.net\"\n";
    let advice = advise(&mapping(bare), "kv1.privatelink.vaultcore.azure.net", None);
    assert!(advice.snippet.starts_with("[records]\n"));
    assert!(pasted_resolves(
        bare,
        &advice,
        "kv1.privatelink.vaultcore.azure.net"
    ));
}

#[test]
fn site_recovery_names_get_a_vault_snippet_that_resolves() {
    // No vault yet: a new [[vault]] with its [vault.site_recovery] table.
    let file = "[[zone]]\nname = \"privatelink.siterecovery.windowsazure.com\"\n";
    let name = "123-asr-pod01-rcm1.we.privatelink.siterecovery.windowsazure.com";
    let advice = advise(&mapping(file), name, None);
    assert_eq!(advice.kind, MissingKind::SiteRecovery);
    assert_eq!(
        advice.snippet,
        "[[vault]]\nname = \"vault-123\"\nid = \"123\"\ngeo = \"we\"\n[vault.site_recovery]\nrcm1 = \"<private IP>\"\n"
    );
    assert!(pasted_resolves(file, &advice, name));

    // The vault exists with Site Recovery names: one line for its table.
    let file = "[[vault]]\nname = \"rsv-dr\"\nid = \"123\"\ngeo = \"we\"\n[vault.site_recovery]\nrcm1 = \"10.0.0.1\"\n";
    let name = "123-asr-pod01-srs1.we.privatelink.siterecovery.windowsazure.com";
    let advice = advise(&mapping(file), name, None);
    assert_eq!(advice.vault.as_deref(), Some("rsv-dr"));
    assert_eq!(advice.snippet, "srs1 = \"<private IP>\"\n");
    assert!(
        advice
            .placement
            .contains("[vault.site_recovery] of the vault named rsv-dr")
    );
    assert!(pasted_resolves(file, &advice, name));

    // The vault exists for Backup only: the table comes with the line.
    let file = "[[vault]]\nname = \"rsv\"\nid = \"123\"\ngeo = \"we\"\n[vault.backup]\nfab1 = \"10.0.0.1\"\n";
    let advice = advise(&mapping(file), name, None);
    assert_eq!(
        advice.snippet,
        "[vault.site_recovery]\nsrs1 = \"<private IP>\"\n"
    );
    assert!(pasted_resolves(file, &advice, name));
}

#[test]
fn in_a_view_the_snippet_names_the_view_tables() {
    let advice = advise(
        &mapping(FILE),
        "somethingelse.privatelink.blob.core.windows.net",
        Some("spoke"),
    );
    assert!(
        advice
            .placement
            .starts_with("in the [[view]] named spoke, ")
    );
    assert!(advice.placement.contains("[view.records]"));
}
