//! Part logs: filtered and paged reads, and synthetic entries (for the seed and for live tailing).
use prost_types::Timestamp;
use serde_json::json;
use tonic::Status;

use super::{PartRecord, Pb, State, find, find_mut, now, parse_token, time_key};
use crate::proto::viam::app::v1::*;
use crate::proto::viam::common::v1::LogEntry;
use crate::proto_json::to_struct;

/// Viam's server-side batch size: one page never holds more entries.
pub const LOG_BATCH: usize = 100;
/// Tailing grows the history forever otherwise.
const MAX_LOGS_PER_PART: usize = 10_000;

impl PartRecord {
    pub fn push_log(&mut self, entry: LogEntry) {
        self.logs.push(Pb(entry));
        if self.logs.len() > MAX_LOGS_PER_PART {
            let excess = self.logs.len() - MAX_LOGS_PER_PART;
            self.logs.drain(..excess);
        }
    }
}

/// The `n`th entry of a part's synthetic log stream: a fixed cycle of levels, loggers and messages.
pub fn synth_log(host: &str, n: u64, time: Timestamp) -> LogEntry {
    let value = n * 37 % 100;
    let (level, logger, component, message) = match n % 8 {
        0 => ("info", "rdk.resource_manager", "", "now configuring resources".to_string()),
        1 => ("debug", "rdk.components.motor", "left-wheel", format!("set power to {value}%")),
        2 => ("info", "rdk.networking", "", format!("cloud connection healthy, round trip {value} ms")),
        3 => (
            "warn",
            "rdk.components.motor",
            "right-wheel",
            format!("current draw high: {}.{} A", value / 10, value % 10),
        ),
        4 => ("debug", "rdk.services.motion", "", format!("plan step {value} reached")),
        5 => ("error", "rdk.components.camera", "front-cam", "failed to read frame: timeout after 500 ms".to_string()),
        6 => ("info", "rdk.modmanager", "", "module demo-robotics_wheel-odometry is healthy".to_string()),
        _ => ("warn", "rdk.networking", "", format!("wifi signal weak: -{} dBm", 60 + value / 4)),
    };
    // Built directly, not through the reflection path: `fleet:N` seeds 10,000 entries at startup.
    let caller = json!({
        "Defined": true,
        "File": format!("/rdk/{}.go", logger.replace('.', "/")),
        "Line": 100 + n % 400,
        "Function": format!("go.viam.com/{logger}.run"),
    });
    let fields = json!({ "component": component, "seq": n });
    LogEntry {
        host: host.to_string(),
        level: level.to_string(),
        time: Some(time),
        logger_name: logger.to_string(),
        message,
        caller: caller.as_object().map(to_struct),
        stack: if level == "error" { format!("goroutine {n} [running]:\n{logger}.run()") } else { String::new() },
        fields: fields.as_object().map(to_struct).into_iter().collect(),
    }
}

/// `filter` must already be lowercase; empty `levels` means all levels.
fn matches(entry: &LogEntry, filter: Option<&str>, levels: &[String]) -> bool {
    filter.is_none_or(|f| entry.message.to_lowercase().contains(f))
        && (levels.is_empty() || levels.iter().any(|l| l.eq_ignore_ascii_case(&entry.level)))
}

/// An open TailRobotPartLogs stream.
pub struct LogTail {
    part_id: String,
    levels: Vec<String>,
    filter: Option<String>,
    next: u64,
    /// The time of the previous step: later entries are new to the tail.
    seen_until: Timestamp,
}

impl State {
    /// Newest first unless `order` says ascending. Page tokens are positions in the part's log, so entries
    /// appended while paging (by a tail) do not shift the pages of a descending read.
    pub fn get_robot_part_logs(&self, r: GetRobotPartLogsRequest) -> Result<GetRobotPartLogsResponse, Status> {
        let logs = &find(&self.parts, &r.id)?.logs;
        #[allow(deprecated)]
        let errors_only = r.errors_only;
        let mut levels = r.levels.clone();
        if levels.is_empty() && errors_only {
            levels.push("error".into());
        }
        let filter = r.filter.as_deref().filter(|f| !f.is_empty()).map(str::to_lowercase);
        let limit = match r.limit {
            Some(l) if l < 0 => return Err(Status::invalid_argument("limit must not be negative")),
            Some(l) if l > 0 => (l as usize).min(LOG_BATCH),
            _ => LOG_BATCH,
        };
        let (start, end) = (r.start.as_ref().map(time_key), r.end.as_ref().map(time_key));
        let keep = |&i: &usize| {
            let entry = &logs[i];
            let time = entry.time.as_ref().map(time_key);
            matches(entry, filter.as_deref(), &levels)
                && start.is_none_or(|s| time >= Some(s))
                && end.is_none_or(|e| time <= Some(e))
        };
        let cursor = r.page_token.as_deref().filter(|t| !t.is_empty());
        let cursor = cursor.map(|t| parse_token(Some(t), logs.len())).transpose()?;
        let ascending = r.order == Some(LogOrder::Ascending as i32);
        let positions: Box<dyn Iterator<Item = usize>> = if ascending {
            Box::new(cursor.unwrap_or(0)..logs.len())
        } else {
            Box::new((0..cursor.unwrap_or(logs.len())).rev())
        };
        let mut hits = positions.filter(keep);
        let picked: Vec<usize> = hits.by_ref().take(limit).collect();
        let next_page_token = match (picked.last(), hits.next()) {
            (Some(&last), Some(_)) => if ascending { last + 1 } else { last }.to_string(),
            _ => String::new(),
        };
        Ok(GetRobotPartLogsResponse { logs: picked.iter().map(|&i| logs[i].0.clone()).collect(), next_page_token })
    }

    pub fn tail_robot_part_logs(&self, r: TailRobotPartLogsRequest) -> Result<LogTail, Status> {
        let record = find(&self.parts, &r.id)?;
        Ok(LogTail {
            part_id: r.id,
            levels: if r.errors_only { vec!["error".into()] } else { Vec::new() },
            filter: r.filter.filter(|f| !f.is_empty()).map(|f| f.to_lowercase()),
            next: record.logs.len() as u64,
            seen_until: now(),
        })
    }

    /// The machine keeps logging whatever the tail asks for: appends `count` new entries to the part's
    /// history and returns the ones that match the tail, after what the part logged since the previous
    /// step (its simulated viam-server's errors, a restart). Fails once the part is gone.
    pub fn tail_step(&mut self, tail: &mut LogTail, count: u64) -> Result<Vec<LogEntry>, Status> {
        let now = now();
        self.advance(&now);
        let record = find_mut(&mut self.parts, &tail.part_id)?;
        let since = Some(time_key(&tail.seen_until));
        let logged = record.logs.iter().rev().take_while(|e| e.time.as_ref().map(time_key) > since).count();
        let mut entries: Vec<LogEntry> =
            record.logs[record.logs.len() - logged..].iter().map(|e| e.0.clone()).collect();
        for n in tail.next..tail.next + count {
            let entry = synth_log(&record.part.name, n, now);
            entries.push(entry.clone());
            record.push_log(entry);
        }
        tail.next += count;
        tail.seen_until = now;
        entries.retain(|entry| matches(entry, tail.filter.as_deref(), &tail.levels));
        Ok(entries)
    }
}
