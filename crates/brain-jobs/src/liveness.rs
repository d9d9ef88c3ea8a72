//! Whether the worker recorded on a running job is known to be gone: the process it names no
//! longer runs on this machine. A killed worker's lease only lapses after `jobs.lease_ms`; until
//! then `brain status` and a follower would show the dead job as running, with an ETA, and a
//! progress bar frozen for no stated reason. A worker id names its process
//! (`pid{PID}-{POOL_START_MS}-{N}`, see [`crate::PoolConfig`]), so this machine can tell at once.
//!
//! Only "known gone" is ever answered: a process that runs, an id of another form, or a system
//! without `/proc` all read as "not known gone", and the lease decides as before. A pid taken by
//! a newer process is told apart by its start time (a process that started after the worker's
//! pool cannot be it). A worker id names its machine too (`pid{PID}-{START}@{HOST}-{N}`), since
//! a PostgreSQL store is shared by several: a worker of another machine is never judged from
//! this one's `/proc` (its lease decides).

use std::path::Path;

/// Jiffies per second in `/proc/<pid>/stat` times: the kernel's USER_HZ, 100 on every Linux.
const USER_HZ: i64 = 100;

/// How much later than its pool's recorded start a process may seem to have started and
/// still be it (the boot time is given in whole seconds).
const START_SLACK_MS: i64 = 2_000;

/// This machine's name, as worker ids and replicas record it.
pub fn this_host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "this machine".into())
    })
}

/// A worker pool id for this process: `pid{PID}-{START_MS}@{HOST}`.
pub fn pool_id(started_ms: i64) -> String {
    format!("pid{}-{started_ms}@{}", std::process::id(), this_host())
}

/// The machine a worker id names (`None` for an id of an older form, which ran here).
pub fn worker_host(worker: &str) -> Option<&str> {
    let (_, host) = worker.strip_prefix("pid")?.split_once('@')?;
    // The worker thread's number follows the host.
    Some(host.rsplit_once('-').map_or(host, |(h, _)| h))
}

/// The pid a worker id names and when its pool started (ms since the epoch).
pub fn parse_worker(worker: &str) -> Option<(u32, i64)> {
    let rest = worker.strip_prefix("pid")?;
    let rest = rest.split_once('@').map_or(rest, |(process, _)| process);
    let mut parts = rest.split('-');
    let pid = parts.next()?.parse().ok()?;
    let started = parts.next()?.parse().ok()?;
    Some((pid, started))
}

/// The pid of `worker` when its process is known gone from this machine, `None` when it runs
/// or this cannot be told.
pub fn worker_gone(worker: &str) -> Option<u32> {
    if worker_host(worker).is_some_and(|host| host != this_host()) {
        return None;
    }
    let (pid, pool_started_ms) = parse_worker(worker)?;
    gone(Path::new("/proc"), pid, pool_started_ms).then_some(pid)
}

fn gone(proc_root: &Path, pid: u32, pool_started_ms: i64) -> bool {
    if !proc_root.join("self").exists() {
        return false; // no /proc: cannot tell
    }
    let Ok(stat) = std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")) else {
        return true; // no such process
    };
    // `pid (comm) state ... starttime`: comm may hold spaces and parentheses, so fields are
    // counted after its closing one.
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return false;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return true; // exited, not yet reaped
    }
    // starttime is field 22 of the whole line, the 20th after `(comm)`.
    let Some(start_jiffies) = fields.get(19).and_then(|f| f.parse::<i64>().ok()) else {
        return false;
    };
    let Some(boot_s) = boot_time_s(proc_root) else {
        return false;
    };
    let started_ms = boot_s * 1000 + start_jiffies * 1000 / USER_HZ;
    started_ms > pool_started_ms + START_SLACK_MS
}

fn boot_time_s(proc_root: &Path) -> Option<i64> {
    let stat = std::fs::read_to_string(proc_root.join("stat")).ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_not_gone_and_a_pid_that_never_ran_is() {
        let me = std::process::id();
        let now = brain_core::time::now_ms();
        assert_eq!(worker_gone(&format!("pid{me}-{now}-0")), None, "we run");
        // A pid above the kernel's maximum never ran.
        assert_eq!(worker_gone(&format!("pid4194305-{now}-0")), Some(4_194_305));
    }

    #[test]
    fn a_pid_taken_by_a_newer_process_is_gone() {
        // This process started before now, so a worker whose pool started long before this
        // process cannot be this process: its pid was taken again.
        let me = std::process::id();
        assert_eq!(worker_gone(&format!("pid{me}-1000-0")), Some(me));
        let host = this_host();
        assert_eq!(worker_gone(&format!("pid{me}-1000@{host}-0")), Some(me));
        assert_eq!(
            worker_gone(&format!("pid{me}-1000@another-machine-0")),
            None,
            "another machine's worker is never judged from here"
        );
        assert_eq!(worker_host(&format!("pid{me}-1000@{host}-3")), Some(host));
    }

    #[test]
    fn what_cannot_be_told_is_not_called_gone() {
        for id in ["w", "dead-worker", "pidx-1-0", "host:pid1-2-0", ""] {
            assert_eq!(worker_gone(id), None, "{id}");
        }
        assert!(!gone(Path::new("/nonexistent-proc"), 1, 0), "no /proc");
    }
}
