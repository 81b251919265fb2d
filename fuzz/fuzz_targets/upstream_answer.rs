//! Any bytes as an upstream's answer to a fixed question: sanitised, chain
//! completed against a fixed mapping, encoded; never a panic.
#![no_main]

use std::sync::OnceLock;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use libfuzzer_sys::fuzz_target;
use privatelink_server::Snapshot;
use privatelink_server::testing::process_upstream_answer;

fn snapshot() -> &'static Snapshot {
    static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let loaded = privatelink_mapping::load_str(
            "fuzz.toml",
            "[[zone]]\nname = \"privatelink.vaultcore.azure.net\"\nfallback = \"forward\"\n[records]\n\"acct.privatelink.blob.core.windows.net\" = \"10.0.0.1\"\n",
        )
        .expect("fixed mapping");
        Snapshot::new(loaded, 1).expect("zones")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(answer) = Message::from_vec(data) else {
        return;
    };
    for (name, rtype) in [
        ("acct.blob.core.windows.net.", RecordType::A),
        ("www.example.", RecordType::AAAA),
    ] {
        let question = Query::query(Name::from_ascii(name).expect("name"), rtype);
        process_upstream_answer(snapshot(), &question, answer.clone());
    }
});
