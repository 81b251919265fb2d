//! Query-log lines, formatted as `tracing-subscriber` formats an event of
//! the `privatelink_dns::query` target: flattened JSON
//! (`--log-format json`) or its text form, without colours.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Event, LogFormat, TARGET};
use crate::observe::metrics::rcode_label;
use crate::wire::name_text;

/// The date and time down to the second, kept while events of the same
/// second are written: only the microseconds change from line to line.
#[derive(Default)]
pub(super) struct Clock {
    second: u64,
    prefix: String,
}

impl Clock {
    /// RFC 3339 in UTC with microseconds, as tracing-subscriber writes it.
    fn write(&mut self, out: &mut Vec<u8>, at: SystemTime) {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let seconds = since.as_secs();
        if self.prefix.is_empty() || seconds != self.second {
            let days = i64::try_from(seconds / 86_400).unwrap_or(0);
            let (year, month, day) = civil_from_days(days);
            let of_day = seconds % 86_400;
            self.prefix = format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.",
                of_day / 3600,
                of_day / 60 % 60,
                of_day % 60,
            );
            self.second = seconds;
        }
        out.extend_from_slice(self.prefix.as_bytes());
        let micros = since.subsec_micros();
        let mut digits = [b'0'; 6];
        let mut rest = micros;
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + u8::try_from(rest % 10).unwrap_or(0);
            rest /= 10;
        }
        out.extend_from_slice(&digits);
        out.push(b'Z');
    }
}

/// Appends the line (with its newline) for `event`. Written byte by byte
/// rather than with `format!`: this runs once per query.
pub(super) fn line(out: &mut Vec<u8>, event: &Event, format: LogFormat, clock: &mut Clock) {
    let wire = event.name.wire();
    let name = if wire.is_empty() {
        String::from("-")
    } else {
        name_text(wire)
    };
    let mut qtype_text = String::new();
    let qtype: &str = match event.qtype {
        None => "-",
        Some(1) => "A",
        Some(28) => "AAAA",
        Some(qtype) => {
            let _ = write!(qtype_text, "{}", hickory_proto::rr::RecordType::from(qtype));
            &qtype_text
        }
    };
    let mut upstream_text = String::new();
    let upstream: &str = match event.upstream {
        None => "-",
        Some(upstream) => {
            let _ = write!(upstream_text, "{upstream}");
            &upstream_text
        }
    };
    let strings = [
        ("transport", event.transport.as_str()),
        ("name", name.as_str()),
        ("qtype", qtype),
        ("outcome", event.outcome.as_str()),
        ("rcode", rcode_label(event.rcode)),
        ("upstream", upstream),
        ("view", event.view.as_deref().unwrap_or("-")),
    ];
    let latency_us = u64::try_from(event.latency.as_micros()).unwrap_or(u64::MAX);
    match format {
        LogFormat::Json => {
            out.extend_from_slice(b"{\"timestamp\":\"");
            clock.write(out, event.at);
            out.extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"query\",\"client\":\"");
            let _ = write!(out, "{}", event.client);
            out.push(b'"');
            for (key, value) in strings {
                out.extend_from_slice(b",\"");
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\":");
                json_string(out, value);
            }
            out.extend_from_slice(b",\"latency_us\":");
            push_number(out, latency_us);
            out.extend_from_slice(b",\"target\":\"");
            out.extend_from_slice(TARGET.as_bytes());
            out.extend_from_slice(b"\"}\n");
        }
        LogFormat::Text => {
            clock.write(out, event.at);
            out.extend_from_slice(b"  INFO ");
            out.extend_from_slice(TARGET.as_bytes());
            // tracing prints the client with `%` (Display), the rest as strings.
            let _ = write!(out, ": query client={}", event.client);
            for (key, value) in strings {
                out.push(b' ');
                out.extend_from_slice(key.as_bytes());
                out.push(b'=');
                debug_string(out, value);
            }
            out.extend_from_slice(b" latency_us=");
            push_number(out, latency_us);
            out.push(b'\n');
        }
    }
}

fn push_number(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// `value` as a JSON string.
fn json_string(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    if value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.extend_from_slice(value.as_bytes());
    } else {
        for c in value.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                c if u32::from(c) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                }
                c => {
                    let mut buffer = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
                }
            }
        }
    }
    out.push(b'"');
}

/// `value` as Rust's `{:?}` writes a string (what tracing's text format does).
fn debug_string(out: &mut Vec<u8>, value: &str) {
    if value
        .bytes()
        .all(|b| (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\')
    {
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    } else {
        let _ = write!(out, "{value:?}");
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = u32::try_from(day_of_year - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::{Duration, UNIX_EPOCH};

    use hickory_proto::op::ResponseCode;

    use super::*;
    use crate::observe::querylog::EventName;
    use crate::reply::Outcome;
    use crate::wire::Transport;

    fn event() -> Event {
        Event {
            client: "127.0.0.1:53030".parse::<SocketAddr>().unwrap(),
            transport: Transport::Udp,
            name: EventName::new(b"\x01A\x0bprivatelink\x04blob\x04core\x07windows\x03net\x00"),
            qtype: Some(1),
            outcome: Outcome::Mapped,
            rcode: ResponseCode::NoError,
            upstream: None,
            view: None,
            latency: Duration::from_micros(70),
            at: UNIX_EPOCH + Duration::from_micros(1_796_224_531_919_736),
        }
    }

    /// The lines tracing-subscriber 0.3 wrote for the same event before the
    /// query log had its own writer (JSON flattened; text without colours),
    /// with the `view` field added since.
    #[test]
    fn lines_are_the_ones_tracing_wrote() {
        let mut json = Vec::new();
        line(&mut json, &event(), LogFormat::Json, &mut Clock::default());
        assert_eq!(
            String::from_utf8(json).unwrap(),
            "{\"timestamp\":\"2026-12-02T15:15:31.919736Z\",\"level\":\"INFO\",\"message\":\"query\",\"client\":\"127.0.0.1:53030\",\"transport\":\"udp\",\"name\":\"A.privatelink.blob.core.windows.net.\",\"qtype\":\"A\",\"outcome\":\"mapped\",\"rcode\":\"NOERROR\",\"upstream\":\"-\",\"view\":\"-\",\"latency_us\":70,\"target\":\"privatelink_dns::query\"}\n"
        );
        let mut text = Vec::new();
        line(&mut text, &event(), LogFormat::Text, &mut Clock::default());
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "2026-12-02T15:15:31.919736Z  INFO privatelink_dns::query: query client=127.0.0.1:53030 transport=\"udp\" name=\"A.privatelink.blob.core.windows.net.\" qtype=\"A\" outcome=\"mapped\" rcode=\"NOERROR\" upstream=\"-\" view=\"-\" latency_us=70\n"
        );
    }

    #[test]
    fn odd_names_are_escaped_for_json() {
        let mut odd = event();
        odd.name = EventName::new(b"\x03a\"b\x03c\\d\x00");
        let mut json = Vec::new();
        line(&mut json, &odd, LogFormat::Json, &mut Clock::default());
        let text = String::from_utf8(json).unwrap();
        assert!(text.contains(r#""name":"a\"b.c\\\\d.""#), "{text}");
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_789), (2026, 12, 2));
    }
}
