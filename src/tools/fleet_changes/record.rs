//! A change as its journal tells it: the lines folded into each part's latest outcome, the
//! change's state and its counts. Pure: reading the journal and resolving what it leaves open
//! (an intent without an outcome) are the callers'.
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// What became of one part, latest first: a health check's verdict over its write's outcome.
#[derive(Debug, Clone, Default)]
pub struct PartRecord {
    pub part_id: String,
    pub machine_name: String,
    pub location_id: String,
    pub online: bool,
    pub intent: Option<Value>,
    pub outcome: Option<String>,
    /// The part's `last_updated` after the change's write.
    pub written_at: Option<String>,
    pub reason: Option<String>,
    pub logs: Option<Value>,
    pub times: Map<String, Value>,
}

impl PartRecord {
    /// An intent with nothing after it: the write may or may not have happened.
    pub fn unresolved(&self) -> bool {
        self.intent.is_some() && self.outcome.is_none()
    }

    /// The change wrote this part (whatever its health check said).
    pub fn written(&self) -> bool {
        self.written_at.is_some()
    }

    pub fn outcome(&self) -> &str {
        match (&self.outcome, &self.intent) {
            (Some(outcome), _) => outcome,
            (None, Some(_)) => "outcome_unknown",
            (None, None) => "pending",
        }
    }

    pub fn row(&self) -> Value {
        let mut row =
            json!({"robot_part_id": self.part_id, "machine_name": self.machine_name, "outcome": self.outcome()});
        let fields = [("reason", self.reason.clone().map(Value::from)), ("logs", self.logs.clone())];
        for (key, value) in fields.into_iter().filter_map(|(k, v)| Some((k, v?))) {
            row[key] = value;
        }
        if let Some(at) = &self.written_at {
            row["written_last_updated"] = json!(at);
        }
        for (key, at) in &self.times {
            row[key] = at.clone();
        }
        row
    }
}

/// A whole change, from its journal.
#[derive(Debug, Default)]
pub struct ChangeRecord {
    pub start: Value,
    /// In the change's order.
    pub parts: Vec<PartRecord>,
    pub end: Option<Value>,
    /// The rollback that undid it, once that rollback finished.
    pub rolled_back_by: Option<String>,
}

impl ChangeRecord {
    pub fn fold(lines: &[Value]) -> Result<Self, String> {
        let mut lines = lines.iter();
        let start = lines.next().filter(|l| l["type"] == "start").ok_or("the journal has no start line")?.clone();
        let mut parts: Vec<PartRecord> = Vec::new();
        for target in start["targets"].as_array().into_iter().flatten() {
            let text = |key: &str| target[key].as_str().unwrap_or_default().to_string();
            parts.push(PartRecord {
                part_id: text("part"),
                machine_name: text("machine"),
                location_id: text("location"),
                online: target["online"] == true,
                ..Default::default()
            });
        }
        let index: HashMap<String, usize> = parts.iter().enumerate().map(|(i, p)| (p.part_id.clone(), i)).collect();
        let mut record = ChangeRecord { start, ..Default::default() };
        for line in lines {
            let part = line["part"].as_str().and_then(|id| index.get(id)).map(|&i| &mut parts[i]);
            let at = line["at"].clone();
            match (line["type"].as_str().unwrap_or_default(), part) {
                ("intent", Some(part)) => {
                    part.intent = Some(line.clone());
                    part.times.insert("intent_at".into(), at);
                }
                ("outcome" | "health", Some(part)) => {
                    part.outcome = line["outcome"].as_str().map(String::from);
                    part.reason = line["reason"].as_str().map(String::from);
                    part.logs = line.get("logs").cloned();
                    if let Some(written) = line["written_last_updated"].as_str() {
                        part.written_at = Some(written.to_string());
                    }
                    let key = if line["type"] == "health" { "checked_at" } else { "outcome_at" };
                    part.times.insert(key.into(), at);
                }
                ("end", _) => record.end = Some(line.clone()),
                ("rolled_back", _) => record.rolled_back_by = line["by"].as_str().map(String::from),
                _ => {}
            }
        }
        record.parts = parts;
        Ok(record)
    }

    pub fn change_id(&self) -> &str {
        self.start["change_id"].as_str().unwrap_or_default()
    }

    pub fn is_rollback(&self) -> bool {
        self.start["kind"] == "rollback"
    }

    /// `running | done | halted | stopped | interrupted | rolled_back`; `running` is the runner's
    /// word (`running` says whether one is alive).
    pub fn state(&self, running: bool) -> &str {
        match (&self.rolled_back_by, &self.end) {
            (Some(_), _) => "rolled_back",
            (None, Some(end)) => end["state"].as_str().unwrap_or("done"),
            (None, None) if running => "running",
            (None, None) => "interrupted",
        }
    }

    pub fn counts(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for part in &self.parts {
            *counts.entry(part.outcome()).or_default() += 1;
        }
        counts
    }

    /// What a listing shows of it.
    pub fn summary(&self, running: bool) -> Value {
        let mut out = json!({
            "change_id": self.change_id(),
            "kind": self.start["kind"],
            "state": self.state(running),
            "created": self.start["at"],
            "change": self.start["change"],
            "targets": self.parts.len(),
            "counts": self.counts(),
        });
        for (key, value) in [("of", self.start.get("of")), ("ended", self.end.as_ref().map(|e| &e["at"]))] {
            if let Some(value) = value.filter(|v| !v.is_null()) {
                out[key] = value.clone();
            }
        }
        if let Some(reason) = self.end.as_ref().and_then(|e| e.get("reason")) {
            out["reason"] = reason.clone();
        }
        if let Some(by) = &self.rolled_back_by {
            out["rolled_back_by"] = json!(by);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> Value {
        json!({"type": "start", "change_id": "fc-1", "kind": "apply", "at": "t0", "change": {"op": "add_item"},
               "targets": [{"part": "p1", "machine": "m1", "online": true, "expect": "e1"},
                           {"part": "p2", "machine": "m2", "online": false, "expect": "e2"},
                           {"part": "p3", "machine": "m3", "online": true, "expect": "e3"}]})
    }

    #[test]
    fn lines_fold_into_each_parts_latest_outcome_and_the_state() {
        let lines = vec![
            start(),
            json!({"type": "intent", "part": "p1", "at": "t1"}),
            json!({"type": "outcome", "part": "p1", "outcome": "written", "written_last_updated": "w1", "at": "t2"}),
            json!({"type": "health", "part": "p1", "outcome": "healthy", "at": "t3"}),
            json!({"type": "intent", "part": "p2", "at": "t4"}),
        ];
        let record = ChangeRecord::fold(&lines).unwrap();
        assert_eq!(record.parts[0].outcome(), "healthy");
        assert!(record.parts[0].written() && !record.parts[0].unresolved());
        assert_eq!(record.parts[1].outcome(), "outcome_unknown");
        assert!(record.parts[1].unresolved());
        assert_eq!(record.parts[2].outcome(), "pending");
        assert_eq!(record.state(false), "interrupted");
        assert_eq!(record.state(true), "running");
        let counts = record.counts();
        assert_eq!((counts["healthy"], counts["outcome_unknown"], counts["pending"]), (1, 1, 1));
        let mut ended = lines.clone();
        ended.push(json!({"type": "end", "state": "halted", "at": "t5"}));
        assert_eq!(ChangeRecord::fold(&ended).unwrap().state(false), "halted");
        ended.push(json!({"type": "rolled_back", "by": "fc-2"}));
        assert_eq!(ChangeRecord::fold(&ended).unwrap().state(false), "rolled_back");
        assert!(ChangeRecord::fold(&lines[1..]).is_err());
    }
}
