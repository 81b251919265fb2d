//! The `[forward]` settings: upstreams, budgets, prefetch.

use super::*;

#[test]
fn ipv6_upstreams_and_default_ports() {
    let loaded = load("[forward]\nupstreams = [\"::1\", \"[::1]:5300\", \"127.0.0.1\"]\n");
    let ups = &loaded.settings.forward.upstreams;
    assert_eq!(
        ups[0],
        std::net::SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), 53)
    );
    assert_eq!(ups[1].port(), 5300);
    assert_eq!(ups[2].port(), 53);
}

#[test]
fn upstream_budgets_default_to_azure_and_rules_inherit_or_override() {
    let loaded = load(
        "[forward]\nupstreams = [\"127.0.0.1\"]\nupstream_max_qps = 400\n\
         [[forward.rule]]\nsuffix = \"corp.example\"\nupstreams = [\"127.0.0.2\"]\n\
         [[forward.rule]]\nsuffix = \"lab.example\"\nupstreams = [\"127.0.0.3\"]\n\
         upstream_max_pending = 20\n",
    );
    let forward = &loaded.settings.forward;
    assert_eq!(
        (forward.limits.max_qps, forward.limits.max_pending),
        (400, 200)
    );
    let corp = forward.route("a.corp.example").limits;
    assert_eq!((corp.max_qps, corp.max_pending), (400, 200));
    let lab = forward.route("a.lab.example").limits;
    assert_eq!((lab.max_qps, lab.max_pending), (400, 20));
    let defaults = load("");
    assert_eq!(
        defaults.settings.forward.limits,
        crate::UpstreamLimits::AZURE
    );
    let found = problems(
        "[forward]\nupstream_max_qps = 0\n[[forward.rule]]\nsuffix = \"x.example\"\n\
         upstreams = [\"127.0.0.1\"]\nupstream_max_pending = 0\n",
    );
    assert!(
        has(&found, "forward.upstream_max_qps: 0 is out of range"),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            "forward.rule[0].upstream_max_pending: 0 is out of range"
        ),
        "{found:?}"
    );
}

#[test]
fn prefetch_is_on_unless_turned_off() {
    assert!(load("").settings.forward.prefetch);
    assert!(
        !load("[forward]\nprefetch = false\n")
            .settings
            .forward
            .prefetch
    );
    let found = problems("[forward]\nprefetch = \"no\"\n");
    assert!(has(&found, "m.toml:2: forward.prefetch"), "{found:?}");
}
