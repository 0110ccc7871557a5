//! Rolling a change out, in the server: waves of writes, then each wave's health checks. Each
//! write is one `UpdateRobotPart` carrying the `last_known_update` the change expects, with an
//! fsync'd intent line before it and its outcome after (both audited too); nothing is written
//! blind and nothing is retried. Past `max_failures` the rollout halts; a stop (the call's
//! cancellation, `stop_fleet_change`, a stop file from a replica) takes effect before the next
//! write, never in the middle of one.
use super::super::config_items::edit::{self, Change, Saved};
use super::super::config_items::{self, Current, Failure, Target, time_json};
use super::{bounded, timestamp};
use crate::call::{CallContext, Risk};
use crate::error::ToolError;
use crate::journal::{Journal, LEASE_EVERY};
use crate::proto::viam::app::v1 as app;
use crate::safety::audit::Entry;
use prost_types::Timestamp;
use serde_json::{Value, json};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Writes and health reads in flight at once.
pub const CONCURRENCY: usize = 16;
/// The error log lines a failed part shows.
const LOG_LINES: usize = 3;

/// What each part's write does to its config.
pub enum Edit {
    /// The plan's change, to the item named `name` before it and `name_after` after it.
    Apply { kind: String, change: Change, name: String, name_after: String },
    /// A rollback: the item named `name_after` goes back to each part's saved item.
    Restore { kind: String, name_after: String },
}

/// One part of the rollout.
pub struct Job {
    pub part_id: String,
    pub online: bool,
    /// The `last_updated` the part must still have; it is the write's `last_known_update`.
    pub expect: Timestamp,
    /// For a rollback, what to put back.
    pub saved: Option<Saved>,
}

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub canary: usize,
    pub wave_size: usize,
    pub max_failures: usize,
    pub verify: Duration,
}

/// A part settled, for the call's progress notifications.
pub struct Event {
    pub done: usize,
    pub total: usize,
    pub message: String,
}

pub struct Rollout {
    pub change_id: String,
    /// The tool whose change this is, for the audit log.
    pub tool: &'static str,
    pub cx: Arc<CallContext>,
    pub edit: Edit,
    pub jobs: Vec<Job>,
    pub settings: Settings,
    pub stop: CancellationToken,
    pub events: mpsc::UnboundedSender<Event>,
    /// For a rollback: the change it undoes, marked rolled back once it is done.
    pub undoes: Option<String>,
    /// Parts settled so far.
    pub settled: AtomicUsize,
}

/// The first wave is the canary; the rest are `wave_size` parts each.
pub fn waves(targets: usize, canary: usize, wave_size: usize) -> Vec<Range<usize>> {
    let mut waves = Vec::new();
    let first = canary.clamp(1, targets.max(1)).min(targets);
    if first > 0 {
        waves.push(0..first);
    }
    let mut at = first;
    while at < targets {
        let end = (at + wave_size.max(1)).min(targets);
        waves.push(at..end);
        at = end;
    }
    waves
}

/// How a part's write went.
enum Written {
    /// With the part's `last_updated` after the write.
    Yes(Timestamp),
    /// Not written, and nothing went wrong (a conflict, already so).
    No,
    /// Not written or not known to be: counts as a failure.
    Failed,
    Stopped,
}

impl Rollout {
    fn journal(&self) -> &Journal {
        &self.cx.app.journal
    }

    fn stopped(&self) -> bool {
        self.stop.is_cancelled() || self.journal().stop_requested(&self.change_id)
    }

    /// Records a line; a line that cannot be recorded is logged (the write it follows is done).
    async fn record(&self, mut line: Value) {
        line["at"] = json!(now());
        if let Err(e) = self.journal().append(&self.change_id, &line).await {
            tracing::error!(change_id = %self.change_id, "fleet change journal: {e}");
        }
    }

    async fn settle(&self, part: &str, outcome: &str) {
        let done = self.settled.fetch_add(1, Ordering::Relaxed) + 1;
        let message = format!("{part}: {outcome}");
        let _ = self.events.send(Event { done, total: self.jobs.len(), message });
    }

    /// Runs every wave and records how the change ended.
    pub async fn run(self: Arc<Self>) {
        let lease = CancellationToken::new();
        let ticker = {
            let (me, lease) = (self.clone(), lease.clone());
            tokio::spawn(async move {
                while tokio::time::timeout(LEASE_EVERY, lease.cancelled()).await.is_err() {
                    me.journal().touch_lease(&me.change_id);
                }
            })
        };
        let s = self.settings;
        let waves = waves(self.jobs.len(), s.canary, s.wave_size);
        let mut failures = 0;
        let mut end = json!({"type": "end", "state": "done"});
        for (n, wave) in waves.iter().enumerate() {
            if self.stopped() {
                end = json!({"type": "end", "state": "stopped", "reason": format!("stopped before wave {}", n + 1)});
                break;
            }
            let writes = bounded(wave.clone().collect(), CONCURRENCY, {
                let me = self.clone();
                move |i| {
                    let me = me.clone();
                    async move { (i, me.write(i).await) }
                }
            })
            .await;
            let mut stopped = false;
            let mut verify = Vec::new();
            for (i, written) in writes {
                match written {
                    Written::Yes(at) if self.jobs[i].online => verify.push((i, at)),
                    Written::Yes(_) => {
                        let part = &self.jobs[i].part_id;
                        let reason = "offline when planned: written, not checked";
                        self.record(json!({"type": "health", "part": part, "outcome": "unverified", "reason": reason}))
                            .await;
                        self.settle(part, "unverified").await;
                    }
                    Written::No => {}
                    Written::Failed => failures += 1,
                    Written::Stopped => stopped = true,
                }
            }
            if stopped {
                end = json!({"type": "end", "state": "stopped", "reason": format!("stopped during wave {}", n + 1)});
                break;
            }
            failures += self.verify(verify).await;
            if self.stopped() && n + 1 < waves.len() {
                end = json!({"type": "end", "state": "stopped", "reason": format!("stopped after wave {}", n + 1)});
                break;
            }
            if failures > s.max_failures {
                let reason = format!(
                    "halted after wave {} of {}: {failures} part(s) failed, more than max_failures {}",
                    n + 1,
                    waves.len(),
                    s.max_failures
                );
                end = json!({"type": "end", "state": "halted", "reason": reason});
                break;
            }
        }
        lease.cancel();
        let _ = ticker.await;
        let done = end["state"] == "done";
        self.record(end).await;
        if let (Some(undone), true) = (&self.undoes, done) {
            let line = json!({"type": "rolled_back", "by": self.change_id, "at": now()});
            if let Err(e) = self.journal().append(undone, &line).await {
                tracing::error!(change_id = %undone, "fleet change journal: {e}");
            }
        }
        self.journal().finish_running(&self.change_id);
    }

    /// One part: read it, and unless it changed since it was planned, write the one item.
    async fn write(&self, i: usize) -> Written {
        let job = &self.jobs[i];
        if self.stopped() {
            return Written::Stopped;
        }
        let target = Target::Part(job.part_id.clone());
        let outcome = |outcome: &str, reason: String| json!({"type": "outcome", "part": job.part_id, "outcome": outcome, "reason": reason});
        let current = match config_items::read(&self.cx.app, &target).await {
            Ok(current) => current,
            Err(e) => {
                self.record(outcome("error", format!("could not read the part: {e}"))).await;
                self.settle(&job.part_id, "error").await;
                return Written::Failed;
            }
        };
        if current.last_updated != Some(job.expect) {
            let reason = format!(
                "changed since it was planned (last_updated {} instead of {}): not written",
                time_json(current.last_updated.as_ref()),
                time_json(Some(&job.expect))
            );
            self.record(outcome("conflict", reason)).await;
            self.settle(&job.part_id, "conflict").await;
            return Written::No;
        }
        let (text, saved, after) = match self.edited(&current, job) {
            Ok(Some(edited)) => edited,
            Ok(None) => {
                self.record(outcome("already_so", "the item already is so: nothing was written".into())).await;
                self.settle(&job.part_id, "already_so").await;
                return Written::No;
            }
            Err(reason) => {
                self.record(outcome("error", reason)).await;
                self.settle(&job.part_id, "error").await;
                return Written::Failed;
            }
        };
        let (kind, name_after) = self.item();
        let intent = json!({
            "type": "intent", "part": job.part_id, "at": now(), "last_known_update": time_json(Some(&job.expect)),
            "kind": kind, "name_after": name_after, "saved": saved, "after": after,
        });
        if let Err(e) = self.journal().append(&self.change_id, &intent).await {
            self.record(outcome("error", format!("not written: the intent could not be recorded ({e})"))).await;
            self.settle(&job.part_id, "error").await;
            return Written::Failed;
        }
        let audited = self.journal().audit.as_ref().map(|log| {
            let arguments =
                json!({"change_id": self.change_id, "robot_part_id": job.part_id, "rpc": "UpdateRobotPart"});
            (log, Entry::new(self.tool, Risk::Destructive, arguments))
        });
        if let Some((log, entry)) = &audited
            && let Err(e) = log.intent(entry).await
        {
            self.record(outcome("error", format!("not written: the audit log could not record it ({e})"))).await;
            self.settle(&job.part_id, "error").await;
            return Written::Failed;
        }
        let started = Instant::now();
        // `last_known_update` is the planned time, whatever was read: never a blind write.
        let planned = Current { name: current.name.clone(), text: String::new(), last_updated: Some(job.expect) };
        let result = config_items::write(&self.cx, &target, &planned, text).await;
        if let Some((log, entry)) = &audited {
            let status = result.as_ref().map_or_else(ToolError::code, |_| "OK".to_string());
            if let Err(e) = log.outcome(entry, &status, started.elapsed()).await {
                tracing::error!("audit log write failed: {e}");
            }
        }
        let (line, written) = match result {
            Ok(Some(at)) => (
                json!({"type": "outcome", "part": job.part_id, "outcome": "written",
                       "written_last_updated": time_json(Some(&at))}),
                Written::Yes(at),
            ),
            Ok(None) => {
                (outcome("outcome_unknown", "the update was answered without last_updated".into()), Written::Failed)
            }
            Err(e) => match config_items::classify(&e) {
                Failure::Conflict => {
                    (outcome("conflict", format!("changed since it was planned: not written ({e})")), Written::No)
                }
                Failure::Unknown => {
                    let (kind, name) = self.item();
                    let (mut line, at) = resolve(&self.cx.app, &job.part_id, &job.expect, kind, name, &after).await;
                    line["reason"] = json!(format!("{e}; {}", line["reason"].as_str().unwrap_or_default()));
                    (line, at.map_or(Written::Failed, Written::Yes))
                }
                Failure::Other => (outcome("error", format!("the update was refused: {e}")), Written::Failed),
            },
        };
        let settled = line["outcome"].as_str().unwrap_or_default().to_string();
        self.record(line).await;
        // A written part settles once its health is known.
        if !matches!(written, Written::Yes(_)) {
            self.settle(&job.part_id, &settled).await;
        }
        written
    }

    /// The new config text, the item as it was (to undo it) and the item after (to tell later
    /// whether an unanswered write landed); none when the part already is so.
    fn edited(&self, current: &Current, job: &Job) -> Result<Option<(String, Saved, Value)>, String> {
        let config = current.config(&Target::Part(job.part_id.clone())).map_err(|e| e.to_string())?;
        let refused = |r: edit::Refusal| format!("{r:?}");
        match &self.edit {
            Edit::Apply { kind, change, name, .. } => {
                let saved = edit::find_raw(&config, kind, name).map_err(refused)?;
                let applied = edit::apply(config, kind, change).map_err(refused)?;
                let after = applied.after.unwrap_or(Value::Null);
                Ok(applied.text.map(|text| (text, saved, after)))
            }
            Edit::Restore { kind, name_after } => {
                let saved = job.saved.clone().ok_or("no saved item to restore")?;
                let now = edit::find_raw(&config, kind, name_after).map_err(refused)?;
                let after = saved.item.as_deref().map_or(Value::Null, |t| serde_json::from_str(t).unwrap_or_default());
                let text = edit::restore(config, kind, name_after, &saved).map_err(refused)?;
                Ok(text.map(|text| (text, now, after)))
            }
        }
    }

    fn item(&self) -> (&str, &str) {
        match &self.edit {
            Edit::Apply { kind, name_after, .. } | Edit::Restore { kind, name_after } => (kind, name_after),
        }
    }

    /// The wave's health checks: every written part that was online when planned must check in
    /// healthy within `verify`. Returns how many failed.
    async fn verify(&self, written: Vec<(usize, Timestamp)>) -> usize {
        let deadline = Instant::now() + self.settings.verify;
        let poll = (self.settings.verify / 50).clamp(Duration::from_millis(100), Duration::from_secs(2));
        let mut pending = written;
        let mut failed = 0;
        while !pending.is_empty() {
            let app = self.cx.app.clone();
            let checks = bounded(pending, CONCURRENCY, move |(i, at)| {
                let app = app.clone();
                let part = self.jobs[i].part_id.clone();
                async move { (i, at, check(&app, &part, &at).await) }
            })
            .await;
            pending = Vec::new();
            let last_round = Instant::now() >= deadline;
            for (i, at, verdict) in checks {
                let part = &self.jobs[i].part_id;
                let line = match verdict {
                    Verdict::Healthy => json!({"type": "health", "part": part, "outcome": "healthy"}),
                    Verdict::Failed { reason, logs } => {
                        failed += 1;
                        json!({"type": "health", "part": part, "outcome": "failed", "reason": reason, "logs": logs})
                    }
                    Verdict::Waiting(reason) if last_round => {
                        failed += 1;
                        let reason = format!("{reason} within verify_seconds");
                        json!({"type": "health", "part": part, "outcome": "failed", "reason": reason})
                    }
                    Verdict::Waiting(_) => {
                        pending.push((i, at));
                        continue;
                    }
                };
                let outcome = line["outcome"].as_str().unwrap_or_default().to_string();
                self.record(line).await;
                self.settle(part, &outcome).await;
            }
            if pending.is_empty() || self.stopped() {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(poll.min(left)).await;
        }
        failed
    }
}

enum Verdict {
    Healthy,
    Failed {
        reason: String,
        logs: Value,
    },
    /// Not yet: why.
    Waiting(String),
}

/// One bounded look at a written part: has it checked in since the write, is it online, and has
/// it logged no error since (at most [`LOG_LINES`] entries read).
async fn check(app: &crate::call::App, part_id: &str, written: &Timestamp) -> Verdict {
    let part = match app.read(app::GetRobotPartRequest { id: part_id.to_string() }).await {
        Ok(response) => response.part.unwrap_or_default(),
        Err(e) => return Verdict::Waiting(format!("could not be read ({e})")),
    };
    let request = app::GetRobotPartLogsRequest {
        id: part_id.to_string(),
        levels: vec!["error".into()],
        start: Some(*written),
        limit: Some(LOG_LINES as i64),
        ..Default::default()
    };
    match app.read(request).await {
        Ok(response) if !response.logs.is_empty() => {
            let logs: Vec<Value> = response
                .logs
                .iter()
                .take(LOG_LINES)
                .map(|l| json!({"time": time_json(l.time.as_ref()), "level": l.level, "logger": l.logger_name, "message": l.message}))
                .collect();
            return Verdict::Failed { reason: "logged errors since the write".into(), logs: Value::Array(logs) };
        }
        Ok(_) => {}
        Err(e) => return Verdict::Waiting(format!("its logs could not be read ({e})")),
    }
    if part.online_state != app::OnlineState::Online as i32 {
        return Verdict::Failed { reason: "went offline after the write".into(), logs: json!([]) };
    }
    let checked_in = part.last_access.is_some_and(|at| (at.seconds, at.nanos) > (written.seconds, written.nanos));
    if checked_in { Verdict::Healthy } else { Verdict::Waiting("did not check in after the write".into()) }
}

/// Whether a write whose outcome is unknown landed, by reading the part: the outcome line to
/// record, and the part's `last_updated` when it did land.
pub async fn resolve(
    app: &crate::call::App,
    part_id: &str,
    expect: &Timestamp,
    kind: &str,
    name_after: &str,
    after: &Value,
) -> (Value, Option<Timestamp>) {
    let line =
        |outcome: &str, reason: &str| json!({"type": "outcome", "part": part_id, "outcome": outcome, "reason": reason});
    let current = match config_items::read(app, &Target::Part(part_id.to_string())).await {
        Ok(current) => current,
        Err(e) => return (line("outcome_unknown", &format!("reading the part failed too ({e})")), None),
    };
    if current.last_updated == Some(*expect) {
        return (line("not_written", "read again: the part is as it was before the write"), None);
    }
    let item = current
        .config(&Target::Part(part_id.to_string()))
        .ok()
        .and_then(|config| config.items(kind).ok())
        .and_then(|items| items.into_iter().map(|(_, v)| v).find(|v| edit::name_of(kind, v) == Some(name_after)));
    let landed = match (item, after) {
        (None, Value::Null) => true,
        (Some(item), after) => edit::same_json(&item, after),
        (None, _) => false,
    };
    match (landed, current.last_updated) {
        (true, Some(at)) => {
            let mut line = line("written", "read again: the write landed");
            line["written_last_updated"] = time_json(Some(&at));
            (line, Some(at))
        }
        _ => (line("outcome_unknown", "read again: the part changed, but not as the write would have"), None),
    }
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A journal's time back as a `Timestamp`.
pub fn parse_time(value: &Value) -> Option<Timestamp> {
    value.as_str().and_then(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canary_comes_first_then_waves_of_wave_size() {
        assert_eq!(waves(10, 1, 4), vec![0..1, 1..5, 5..9, 9..10]);
        assert_eq!(waves(3, 5, 2), vec![0..3]);
        assert_eq!(waves(1, 1, 1), vec![0..1]);
        assert!(waves(0, 1, 1).is_empty());
    }
}
