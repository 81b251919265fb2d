//! The status page at `/`: one server-rendered HTML page a network engineer
//! opens in a browser. No JavaScript build chain and nothing fetched from
//! elsewhere (it works with no internet); it refreshes itself every 30 s and
//! has a button for now. Everything shown comes from the same data as
//! `/api/v1/status` and `/api/v1/missing`.

use std::fmt::Write as _;

use super::api::{MissingRecord, Status};
use crate::observe::querylog::format::civil_from_days;

/// How often the page reloads itself.
const REFRESH_S: u32 = 30;

const STYLE: &str = "
body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
header{background:#0b3d66;color:#fff;padding:.8em 1.2em;display:flex;flex-wrap:wrap;gap:.6em 1.5em;align-items:center}
header h1{font-size:1.2em;margin:0}header form{margin-left:auto}
main{padding:1em;max-width:80em;margin:auto}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:0 0 1em;padding:.6em 1em;overflow-x:auto}
h2{font-size:1.05em;margin:.3em 0 .6em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #eaeef2;vertical-align:top}
th{font-weight:600;background:#f6f8fa}code,pre{font:13px ui-monospace,monospace}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:.5em;white-space:pre-wrap;margin:.3em 0}
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}.muted{color:#57606a}
button{font:inherit;padding:.3em .9em;border-radius:6px;border:1px solid #fff;background:#fff;color:#0b3d66;cursor:pointer}
@media(max-width:40em){td,th{padding:.2em .3em}main{padding:.4em}}
";

/// Escapes text for HTML.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
fn when(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or(0);
    let secs = unix % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn mapping_section(out: &mut String, status: &Status) {
    let m = &status.mapping;
    let _ = write!(
        out,
        "<section id=\"mapping\"><h2>Mapping</h2><p>File <code>{}</code>, generation <b>{}</b>, {} names, loaded {}<br><span class=\"muted\">sha256 <code>{}</code></span></p>",
        esc(&m.file),
        m.generation,
        m.names,
        when(m.loaded_at),
        esc(&m.sha256)
    );
    out.push_str("<table id=\"zones\"><tr><th>Zone</th><th>Names</th><th>Unmapped names</th></tr>");
    for zone in &m.zones {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&zone.zone),
            zone.names,
            zone.fallback
        );
    }
    out.push_str("</table>");
    for vault in &m.vaults {
        let _ = write!(
            out,
            "<h2 class=\"vault\">Vault {} <span class=\"muted\">id {} · geo {} · line {}</span></h2><table><tr><th>Service</th><th>Name</th><th>Addresses</th><th>Line</th></tr>",
            esc(&vault.name),
            esc(vault.vault_id.as_deref().unwrap_or("-")),
            esc(vault.geo.as_deref().unwrap_or("-")),
            vault.line
        );
        let storage = vault.storage.iter().flat_map(|account| {
            account.names.iter().map(move |name| {
                (
                    format!("{} {} ({})", account.account, name.service, account.role),
                    name,
                )
            })
        });
        let services = vault
            .services
            .iter()
            .map(|name| (name.service.clone(), name));
        let site_recovery = vault
            .site_recovery
            .iter()
            .map(|name| (format!("{} (Site Recovery)", name.service), name));
        for (label, name) in services.chain(site_recovery).chain(storage) {
            let addresses: Vec<String> = name.addresses.iter().map(ToString::to_string).collect();
            let _ = write!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&label),
                esc(&name.name),
                esc(&addresses.join(", ")),
                name.line
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</section>");
}

fn missing_section(out: &mut String, missing: &[MissingRecord]) {
    out.push_str("<section id=\"missing\"><h2>Missing records</h2>");
    if missing.is_empty() {
        out.push_str("<p class=\"ok\">None seen: every name asked for in a served zone is mapped.</p></section>");
        return;
    }
    out.push_str("<p>Names asked for in a served zone that the file does not map (the clients got NXDOMAIN). Copy the snippet, fill in the private IP from the portal (the private endpoint's DNS configuration), save the file.</p>");
    for record in missing {
        let via = record
            .public
            .as_deref()
            .map(|public| format!(" via <code>{}</code>", esc(public)))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<div class=\"missing-entry\"><p><b><code>{}</code></b>{via} — asked {} times, first {}, last {} by {}<br>{}<br><span class=\"muted\">{}: {}</span></p><pre class=\"snippet\">{}</pre></div>",
            esc(&record.name),
            record.count,
            when(record.first_seen),
            when(record.last_seen),
            esc(&record.clients.join(", ")),
            esc(&record.advice.summary),
            record.advice.kind.as_str(),
            esc(&record.advice.placement),
            esc(&record.advice.snippet)
        );
    }
    out.push_str("</section>");
}

fn upstream_section(out: &mut String, status: &Status) {
    out.push_str("<section id=\"upstreams\"><h2>Upstreams and cache</h2>");
    if status.upstreams.is_empty() {
        out.push_str("<p>Offline: no upstream is configured; names outside the served zones get SERVFAIL.</p>");
    } else {
        out.push_str("<table><tr><th>Upstream</th><th>For</th><th>Health</th><th>Latency</th><th>Budget (pending / sent last s)</th><th>Shed</th></tr>");
        for upstream in &status.upstreams {
            let class = if upstream.health == "down" {
                "bad"
            } else {
                "ok"
            };
            let budget = upstream.budget.as_ref();
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td class=\"{class}\">{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                upstream.address,
                esc(&upstream.routes.join(", ")),
                upstream.health,
                upstream
                    .failing_for_s
                    .map(|s| format!(" for {s} s"))
                    .unwrap_or_default(),
                upstream
                    .srtt_ms
                    .map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1} ms")),
                budget.map_or_else(
                    || "-".to_owned(),
                    |b| format!(
                        "{} / {} of {} / {}",
                        b.pending, b.sent_last_second, b.max_pending, b.max_qps
                    )
                ),
                budget.map_or(0, |b| b.shed)
            );
        }
        out.push_str("</table>");
    }
    let cache = &status.cache;
    let _ = write!(
        out,
        "<p>Cache: {} answers, {} KiB; {} hits, {} misses{}; {} stale answers served.</p></section>",
        cache.entries,
        cache.bytes / 1024,
        cache.hits,
        cache.misses,
        cache
            .hit_ratio
            .map(|r| format!(" ({:.1} % hits)", r * 100.0))
            .unwrap_or_default(),
        cache.stale_served
    );
}

fn reload_section(out: &mut String, status: &Status) {
    let r = &status.reloads;
    let _ = write!(
        out,
        "<section id=\"reloads\"><h2>Reloads</h2><p>{} applied, {} rejected{}.</p><table><tr><th>When</th><th>Trigger</th><th>Result</th><th>Generation</th><th>Changes</th></tr>",
        r.applied,
        r.rejected,
        if r.last_failed {
            " — <span class=\"bad\">the last one was rejected; the previous mapping is still served</span>"
        } else {
            ""
        }
    );
    for event in &r.history {
        let class = if event.result == "rejected" {
            "bad"
        } else {
            "ok"
        };
        let mut changes = format!(
            "+{} −{} ~{} names",
            event.added, event.removed, event.changed
        );
        for (sign, names) in [
            ("+", &event.added_names),
            ("−", &event.removed_names),
            ("~", &event.changed_names),
        ] {
            for name in names {
                let _ = write!(changes, "<br>{sign} <code>{}</code>", esc(name));
            }
        }
        for error in &event.errors {
            let _ = write!(changes, "<br><span class=\"bad\">{}</span>", esc(error));
        }
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td>{}</td><td>{changes}</td></tr>",
            when(event.at),
            event.trigger,
            event.result,
            event.generation
        );
    }
    out.push_str("</table></section>");
}

fn queries_section(out: &mut String, status: &Status) {
    out.push_str("<section id=\"queries\"><h2>Last queries</h2>");
    if !status.query_log {
        out.push_str("<p class=\"muted\">Turn on <code>server.query_log</code> to see the last queries here.</p></section>");
        return;
    }
    out.push_str("<table><tr><th>When</th><th>Client</th><th>Name</th><th>Type</th><th>Outcome</th><th>Rcode</th><th>µs</th></tr>");
    for query in &status.recent_queries {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            when(query.at),
            query.client,
            esc(&query.name),
            esc(query.qtype.as_deref().unwrap_or("-")),
            query.outcome,
            esc(&query.rcode),
            query.latency_us
        );
    }
    out.push_str("</table></section>");
}

/// The whole page.
pub(crate) fn render(status: &Status, missing: &[MissingRecord]) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta http-equiv=\"refresh\" content=\"{REFRESH_S}\"><title>privatelink-dns status</title><style>{STYLE}</style></head><body><header><h1>privatelink-dns {}</h1><span>{}</span><span>{} missing</span><span>started {}</span><form method=\"get\" action=\"/\"><button type=\"submit\">Refresh</button></form></header><main>",
        status.version,
        if status.ready {
            "<span class=\"ok\">ready</span>"
        } else {
            "<span class=\"bad\">not ready</span>"
        },
        missing.len(),
        when(status.started_at)
    );
    missing_section(&mut out, missing);
    mapping_section(&mut out, status);
    upstream_section(&mut out, status);
    reload_section(&mut out, status);
    queries_section(&mut out, status);
    out.push_str("</main></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_times_are_utc() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(when(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(when(1_796_400_000), "2026-12-04 16:00:00 UTC");
    }
}
