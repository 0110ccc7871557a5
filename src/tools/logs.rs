//! Machine part logs: past entries page by page, and a bounded tail of live entries.
use super::args::{Id, LogLevel, LogOrder, Named, Time, within};
use super::{BoxFuture, CallContext, Row, ToolResult, custom, message_schema, row};
use crate::call::FileArg;
use crate::error::ToolError;
use crate::proto::viam::app::v1 as app;
use crate::proto::viam::common::v1::LogEntry;
use crate::proto_json::to_json;
use crate::safety::files;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub(super) fn rows() -> Vec<Row> {
    vec![
        row!(
            get_robot_part_logs,
            Read,
            custom::<_, app::GetRobotPartLogsResponse>("GetRobotPartLogs", get_robot_part_logs)
                .with_output(logs_output)
        )
        .files(&[FileArg::Write("dest")])
        .pages(&["logs"]),
        row!(
            tail_robot_part_logs,
            Read,
            custom::<_, app::TailRobotPartLogsResponse>("TailRobotPartLogs", tail_robot_part_logs)
        ),
    ]
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LogsArgs {
    robot_part_id: Id,
    /// Only entries whose message contains this.
    #[serde(default)]
    filter: Option<String>,
    /// A local file for the entries, one tab-separated line each.
    #[serde(default)]
    dest: Option<String>,
    #[serde(default)]
    overwrite: bool,
    /// [] = all.
    #[serde(default)]
    log_levels: Vec<LogLevel>,
    /// 0 = all there are, up to 10000.
    #[serde(default = "hundred", deserialize_with = "within::<_, _, 0, MAX_LOG_ENTRIES>")]
    #[schemars(range(min = 0, max = 10000))]
    num_log_entries: i64,
    #[serde(default)]
    start: Option<Time>,
    #[serde(default)]
    end: Option<Time>,
    /// Omitted = newest first.
    #[serde(default)]
    order: Option<LogOrder>,
    /// e.g. "10m", "10h", "10d": from `start` or back from `end` (give one).
    #[serde(default)]
    range: Option<String>,
}

fn hundred() -> i64 {
    100
}

/// The most entries one call collects, whatever `num_log_entries` asks.
const MAX_LOG_ENTRIES: i64 = 10_000;

/// One page's request, as the SDK sends it: `filter` and `page_token` always present.
fn page_request(a: &LogsArgs, page_token: &str) -> app::GetRobotPartLogsRequest {
    app::GetRobotPartLogsRequest {
        id: a.robot_part_id.to_string(),
        filter: Some(a.filter.clone().unwrap_or_default()),
        page_token: Some(page_token.to_string()),
        levels: a.log_levels.iter().map(|level| level.as_str().to_string()).collect(),
        start: a.start.map(Time::to_proto),
        end: a.end.map(Time::to_proto),
        order: a.order.map(LogOrder::to_proto),
        range: a.range.clone(),
        ..Default::default()
    }
}

/// One step of the SDK's paging loop: adds `page` to `logs`, counting down `left`, and says
/// whether to stop. With `wanted == 0` it follows the pages to the end.
fn take_page(
    logs: &mut Vec<LogEntry>,
    page: Vec<LogEntry>,
    wanted: i64,
    left: &mut i64,
    next_page_token: &str,
) -> bool {
    if wanted != 0 && page.len() as i64 > *left {
        logs.extend(page.into_iter().take(*left as usize));
        return true;
    }
    *left -= page.len() as i64;
    logs.extend(page);
    next_page_token.is_empty() || *left == 0
}

fn get_robot_part_logs(cx: Arc<CallContext>, a: LogsArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        // The pipeline checked `dest` before any RPC; as in the SDK, an empty one writes nothing.
        let dest = cx.file("dest").cloned();
        let mut logs = Vec::new();
        // 0 asks for every page; it is bounded like any other count.
        let wanted = if a.num_log_entries == 0 { MAX_LOG_ENTRIES } else { a.num_log_entries };
        let mut left = wanted;
        let mut page_token = String::new();
        let mut pages = 0;
        loop {
            if cx.cancel.is_cancelled() {
                return Err(cancelled(format!("cancelled after {pages} pages")));
            }
            let page = cx.unary(page_request(&a, &page_token)).await?;
            pages += 1;
            let done = take_page(&mut logs, page.logs, wanted, &mut left, &page.next_page_token);
            page_token = page.next_page_token;
            if done {
                break;
            }
        }
        let mut out = match &dest {
            Some(target) => {
                let text: String = logs.iter().map(log_line).collect();
                files::write(target, text.as_bytes(), a.overwrite, false)
                    .map_err(|e| ToolError::local(format!("cannot write the logs to {:?}: {e}", a.dest)))?;
                // The file has them all; the result only says where.
                files::receipt(target, text.len(), logs.len())
            }
            None => {
                let mut response = to_json(&app::GetRobotPartLogsResponse { logs, next_page_token: String::new() });
                json!({"logs": response["logs"].take()})
            }
        };
        // The service's page token cannot be passed back: what it means is said instead.
        if !page_token.is_empty() {
            out[MORE_ENTRIES] = json!(
                "the service holds more matching entries than were collected: raise num_log_entries \
                 (0 = all, up to 10000) or narrow start and end"
            );
        }
        Ok(out)
    })
}

/// Present when the service had more entries than the call collected.
const MORE_ENTRIES: &str = "more_entries";

/// The response's schema, with [`MORE_ENTRIES`] where the service's page token was.
fn logs_output() -> serde_json::Map<String, serde_json::Value> {
    let mut schema = message_schema::<app::GetRobotPartLogsResponse>();
    if let Some(serde_json::Value::Object(properties)) = schema.get_mut("properties") {
        properties.remove("next_page_token");
        properties.insert(MORE_ENTRIES.into(), json!({"type": "string"}));
    }
    schema
}

fn cancelled(message: String) -> ToolError {
    ToolError::Grpc { code: tonic::Code::Cancelled, message, hint: None }
}

/// One log line as the SDK writes it to `dest`: time, LEVEL, logger, caller padded to 64, message.
fn log_line(entry: &LogEntry) -> String {
    use prost_types::value::Kind;
    // The SDK prints the naive UTC datetime, whose microseconds are shown only when not zero.
    let time = entry.time.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, (t.nanos / 1000 * 1000) as u32));
    let time = match time {
        None => "None".to_string(),
        Some(t) if t.timestamp_subsec_micros() == 0 => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
    };
    let logger = entry.logger_name.split('.').next().unwrap_or_default();
    let caller = entry.caller.as_ref().map(|c| (c.fields.get("File"), c.fields.get("Line")));
    let caller = match caller {
        Some((Some(file), Some(line))) => {
            let file = match &file.kind {
                Some(Kind::StringValue(s)) => s.clone(),
                _ => String::new(),
            };
            let line = match &line.kind {
                Some(Kind::NumberValue(n)) => (*n as i64).to_string(),
                Some(Kind::StringValue(s)) => s.clone(),
                _ => String::new(),
            };
            format!("{file}:{line}")
        }
        _ => String::new(),
    };
    format!("{time}\t{}\t{logger}\t{caller:<64}{}\n", entry.level.to_uppercase(), entry.message)
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TailArgs {
    robot_part_id: Id,
    /// false = all levels.
    #[serde(default = "yes")]
    errors_only: bool,
    /// Only entries whose message contains this.
    #[serde(default)]
    filter: Option<String>,
    #[serde(default = "ten", deserialize_with = "within::<_, _, 1, 300>")]
    #[schemars(range(min = 1, max = 300))]
    duration_seconds: u64,
    #[serde(default = "hundred_entries", deserialize_with = "within::<_, _, 1, MAX_LOG_ENTRIES>")]
    #[schemars(range(min = 1, max = 10000))]
    max_entries: usize,
}

fn yes() -> bool {
    true
}

fn ten() -> u64 {
    10
}

fn hundred_entries() -> usize {
    100
}

/// The stream's one request, as the SDK sends it: `filter` always present.
fn tail_request(a: &TailArgs) -> app::TailRobotPartLogsRequest {
    app::TailRobotPartLogsRequest {
        id: a.robot_part_id.to_string(),
        errors_only: a.errors_only,
        filter: Some(a.filter.clone().unwrap_or_default()),
    }
}

fn tail_robot_part_logs(cx: Arc<CallContext>, a: TailArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let deadline = tokio::time::sleep(Duration::from_secs(a.duration_seconds));
        tokio::pin!(deadline);
        let mut logs = Vec::new();
        let stopped_because = 'read: {
            // Biased so that cancellation, then the deadline, win over a ready stream.
            let mut stream = tokio::select! {
                biased;
                _ = cx.cancel.cancelled() => break 'read "cancelled",
                _ = &mut deadline => break 'read "duration",
                stream = cx.app.conn.server_stream(tail_request(&a)) => stream?,
            };
            loop {
                let batch = tokio::select! {
                    biased;
                    _ = cx.cancel.cancelled() => break 'read "cancelled",
                    _ = &mut deadline => break 'read "duration",
                    message = stream.message() => message.map_err(ToolError::from)?,
                };
                // Like the SDK, an empty batch ends the tail.
                let Some(batch) = batch.filter(|b| !b.logs.is_empty()) else {
                    break 'read "end_of_stream";
                };
                logs.extend(batch.logs);
                logs.truncate(a.max_entries);
                let received = logs.len();
                cx.report(received as f64, Some(a.max_entries as f64), format!("{received} log entries received"))
                    .await;
                if received == a.max_entries {
                    break 'read "max_entries";
                }
            }
        };
        tracing::info!(stopped_because, entries = logs.len(), "tail ended");
        let mut out = to_json(&app::TailRobotPartLogsResponse { logs });
        out["stopped_because"] = json!(stopped_because);
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::Risk;
    use crate::tools::tests::{args, golden, hex, offline_context};
    use std::sync::Arc;
    use tokio_util::sync::CancellationToken;

    #[test]
    fn default_log_pages_send_filter_and_page_token_present() {
        let a: LogsArgs = args(json!({"robot_part_id": "p1"}));
        assert_eq!(hex(&page_request(&a, "")), golden("logs::default_log_pages_send_filter_and_page_token_present"));
        assert_eq!(
            hex(&page_request(&a, "p2")),
            golden("logs::default_log_pages_send_filter_and_page_token_present#2")
        );
    }

    #[test]
    fn log_pages_carry_every_option() {
        let a: LogsArgs = args(json!({
            "robot_part_id": "p1", "filter": "err", "log_levels": ["error", "warn"], "num_log_entries": 0,
            "start": "2024-01-02T03:04:05.678Z", "end": "2024-01-02T03:04:05.678Z", "order": "ascending",
            "range": "10m",
        }));
        let rest = golden("logs::log_pages_carry_every_option");
        assert_eq!(hex(&page_request(&a, "")), format!("0a0270311a036572722200{rest}"));
        assert_eq!(hex(&page_request(&a, "p2")), format!("0a0270311a0365727222027032{rest}"));
        assert_eq!(hex(&page_request(&a, "p3")), format!("0a0270311a0365727222027033{rest}"));
    }

    /// Runs the paging loop over pages of 60 entries, three pages in all, as the SDK pages them.
    fn run_pages(wanted: i64) -> (usize, usize) {
        let (mut logs, mut left, mut requests) = (Vec::new(), wanted, 0);
        for (i, token) in ["p2", "p3", ""].into_iter().enumerate() {
            requests += 1;
            let page = vec![LogEntry { message: format!("page {i}"), ..Default::default() }; 60];
            if take_page(&mut logs, page, wanted, &mut left, token) {
                break;
            }
        }
        (requests, logs.len())
    }

    #[test]
    fn paging_stops_where_the_sdk_stops() {
        assert_eq!(run_pages(100), (2, 100));
        assert_eq!(run_pages(0), (3, 180));
        assert_eq!(run_pages(60), (1, 60));
        assert_eq!(run_pages(500), (3, 180));
    }

    #[test]
    fn log_lines_match_the_sdk_file_format() {
        use prost_types::{Struct, Timestamp, Value as PValue, value::Kind};
        let caller = Struct {
            fields: [
                ("File".to_string(), PValue { kind: Some(Kind::StringValue("robot/impl.go".into())) }),
                ("Line".to_string(), PValue { kind: Some(Kind::NumberValue(42.0)) }),
            ]
            .into(),
        };
        let entry = LogEntry {
            level: "error".into(),
            time: Some(Timestamp { seconds: 1_704_164_645, nanos: 678_000_999 }),
            logger_name: "rdk.resource_manager".into(),
            message: "boom".into(),
            caller: Some(caller),
            ..Default::default()
        };
        let file = format!("{:<64}", "robot/impl.go:42");
        assert_eq!(log_line(&entry), format!("2024-01-02 03:04:05.678000\tERROR\trdk\t{file}boom\n"));
        let whole_second = LogEntry { time: Some(Timestamp { seconds: 1_704_164_645, nanos: 0 }), ..entry };
        assert!(log_line(&whole_second).starts_with("2024-01-02 03:04:05\t"));
    }

    fn context(cancel: CancellationToken) -> Arc<CallContext> {
        offline_context(Risk::Read, cancel)
    }

    #[test]
    fn counts_and_durations_are_bounded() {
        for n in [-1, 10_001] {
            let err = serde_json::from_value::<LogsArgs>(json!({"robot_part_id": "p1", "num_log_entries": n}));
            assert!(err.unwrap_err().to_string().contains("between 0 and 10000"));
        }
        for (key, value) in
            [("duration_seconds", 0), ("duration_seconds", 301), ("max_entries", 0), ("max_entries", 10_001)]
        {
            let err = serde_json::from_value::<TailArgs>(json!({"robot_part_id": "p1", key: value})).unwrap_err();
            assert!(err.to_string().contains("must be between"), "{key}: {err}");
        }
    }

    #[tokio::test]
    async fn a_cancelled_call_stops_before_the_next_request() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let err = get_robot_part_logs(context(cancel.clone()), args(json!({"robot_part_id": "p1"}))).await.unwrap_err();
        assert_eq!(err.code(), "CANCELLED");
        let out = tail_robot_part_logs(context(cancel), args(json!({"robot_part_id": "p1"}))).await.unwrap();
        assert_eq!(out, json!({"logs": [], "stopped_because": "cancelled"}));
    }

    #[test]
    fn tail_requests_match_the_sdk() {
        assert_eq!(
            hex(&tail_request(&args(json!({"robot_part_id": "p1"})))),
            golden("logs::tail_requests_match_the_sdk")
        );
        let a = json!({"robot_part_id": "p1", "errors_only": false, "filter": "x"});
        assert_eq!(hex(&tail_request(&args(a))), golden("logs::tail_requests_match_the_sdk#2"));
    }
}
