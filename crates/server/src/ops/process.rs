//! The process metrics Prometheus' own clients export (resident memory,
//! CPU time, open file descriptors, start time), read from `/proc` at
//! scrape time. Zero where `/proc` cannot be read.

/// One reading of the process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ProcessReading {
    pub resident_bytes: u64,
    pub cpu_seconds: f64,
    pub open_fds: u64,
    pub start_time_seconds: u64,
}

/// Clock ticks per second of `/proc/self/stat`'s times: USER_HZ, 100 on
/// every Linux architecture that matters here.
const USER_HZ: u64 = 100;
const PAGE_SIZE: u64 = 4096;

pub(crate) fn read() -> ProcessReading {
    let mut reading = ProcessReading::default();
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name, which is in parentheses and may hold spaces.
        if let Some((_, rest)) = stat.rsplit_once(')') {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let field = |n: usize| fields.get(n).and_then(|f| f.parse::<u64>().ok());
            // rest[0] is field 3 (state): utime 14, stime 15, starttime 22, rss 24.
            if let (Some(utime), Some(stime)) = (field(11), field(12)) {
                #[allow(clippy::cast_precision_loss)]
                let seconds = (utime + stime) as f64 / USER_HZ as f64;
                reading.cpu_seconds = seconds;
            }
            if let Some(rss) = field(21) {
                reading.resident_bytes = rss * PAGE_SIZE;
            }
            if let (Some(start), Some(boot)) = (field(19), boot_time()) {
                reading.start_time_seconds = boot + start / USER_HZ;
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        reading.open_fds = u64::try_from(entries.count()).unwrap_or(0);
    }
    reading
}

fn boot_time() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_descriptors_and_a_start() {
        let reading = read();
        assert!(reading.resident_bytes > 1 << 20, "{reading:?}");
        assert!(reading.open_fds >= 3, "{reading:?}");
        assert!(reading.start_time_seconds > 1_600_000_000, "{reading:?}");
    }
}
