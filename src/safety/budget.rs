//! The result budget, the pipeline's last stage before a result leaves: no result's text passes
//! `--max-result-bytes`, and nothing is cut silently. A listing a row pages over (`.pages(...)`)
//! comes a page at a time, with `total` and a `next_cursor` that resumes it; whatever is still too
//! large loses its largest fields, each named in `truncated` with how to get all of it.
//! `limit` and `cursor` are the server's own: they are taken out of the arguments before the
//! operation sees them, so the request sent is the SDK's whatever page is asked for.
use crate::call::{FileArg, RowPolicy};
use crate::cursor;
use crate::error::ToolError;
use crate::json_text::compact;
use rmcp::model::JsonObject;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// About Claude Code's 10k-token warning level.
pub const DEFAULT_MAX_RESULT_BYTES: usize = 40_000;
/// The smallest budget a marker and a page's paging fields still fit in.
pub const MIN_MAX_RESULT_BYTES: usize = 4_096;
/// The most items one page holds, whatever fits.
pub const MAX_LIMIT: usize = 1_000;
/// What `truncated` and its paths take, kept free when an item is shortened.
const MARKER_ROOM: usize = 800;
/// Top-level fields that say how to go on; never left out.
const PAGING_FIELDS: [&str; 3] = ["truncated", "next_cursor", "total"];

/// The most bytes of text one result may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget(pub usize);

impl Default for Budget {
    fn default() -> Self {
        Budget(DEFAULT_MAX_RESULT_BYTES)
    }
}

/// Recent whole listings of paged calls, so that following a cursor cuts the next page from the
/// listing the first page came from instead of fetching it all again (10,000 logs are 100
/// requests). Few and brief: a cursor followed later, or on another replica, fetches again, which
/// is only slower. The first page is always fetched fresh.
#[derive(Default)]
pub struct Listings(Mutex<VecDeque<(String, Instant, Arc<Value>)>>);

/// How long a listing is kept for its next pages.
const LISTING_KEPT_FOR: Duration = Duration::from_secs(60);
/// How many listings are kept at once.
const LISTINGS_KEPT: usize = 4;

impl Listings {
    /// The listing a later page of `page`'s call is cut from, when it was fetched recently.
    pub fn recent(&self, page: &Page) -> Option<Value> {
        if page.offset == 0 {
            return None;
        }
        let key = page.key();
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        kept.retain(|(_, at, _)| at.elapsed() < LISTING_KEPT_FOR);
        kept.iter().find(|(k, _, _)| *k == key).map(|(_, _, listing)| (**listing).clone())
    }

    /// Keeps a freshly fetched listing for the pages after `page`, when there will be any: a
    /// listing that fits one page is not copied.
    pub fn keep(&self, page: &Page, lists: &[&str], listing: &Value, budget: Budget) {
        let items: usize = lists.iter().filter_map(|name| listing.get(*name)?.as_array().map(Vec::len)).sum();
        if items <= page.limit && size(listing) <= budget.0 {
            return;
        }
        let key = page.key();
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        kept.retain(|(k, at, _)| *k != key && at.elapsed() < LISTING_KEPT_FOR);
        if kept.len() == LISTINGS_KEPT {
            kept.pop_front();
        }
        kept.push_back((key, Instant::now(), Arc::new(listing.clone())));
    }
}

/// Which page of a listing a call asks for.
pub struct Page {
    tool: &'static str,
    /// The arguments that select the listing, which its cursors are tied to.
    selection: Value,
    offset: usize,
    limit: usize,
}

/// Takes `limit` and `cursor` out of a paged row's arguments and opens the cursor against the
/// rest; `None` for a row that pages over nothing.
pub fn take_page(
    tool: &'static str,
    policy: &RowPolicy,
    arguments: &mut JsonObject,
) -> Result<Option<Page>, ToolError> {
    if policy.pages.is_empty() {
        return Ok(None);
    }
    let limit = match arguments.remove("limit") {
        None | Some(Value::Null) => MAX_LIMIT,
        Some(given) => match given.as_u64().map(|n| n as usize) {
            Some(n @ 1..=MAX_LIMIT) => n,
            _ => {
                return Err(ToolError::invalid(format!(
                    "limit: expected an integer from 1 to {MAX_LIMIT}, got {given}"
                )));
            }
        },
    };
    let given = match arguments.remove("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(cursor)) => Some(cursor),
        Some(other) => return Err(ToolError::invalid(format!("cursor: expected a string, got {other}"))),
    };
    let selection = canonical(Value::Object(arguments.clone()));
    let offset = match given {
        Some(given) => cursor::open(tool, &selection, &given)?,
        None => 0,
    };
    Ok(Some(Page { tool, selection, offset, limit }))
}

/// A result within the budget, with its text as the client gets it: written once, here, and used
/// both to measure the result and as its text content.
#[derive(Debug)]
pub struct Fitted {
    pub value: Value,
    pub text: String,
}

/// Brings a result within the budget: a page of its listing, then, if still too large, without
/// its largest fields.
pub fn fit(policy: &RowPolicy, page: Option<Page>, mut value: Value, budget: Budget) -> Result<Fitted, ToolError> {
    let how = how_to_get_all(policy);
    if let Some(page) = page {
        page.cut(policy.pages, &mut value, budget.0, how)?;
    }
    let mut text = compact(&value);
    let mut room = budget.0;
    while text.len() > budget.0 && room > 0 {
        let left_out = shorten(&mut value, room, &PAGING_FIELDS);
        if left_out.is_empty() {
            break;
        }
        mark(&mut value, left_out, how);
        text = compact(&value);
        // The marker itself took room: shorten further by what it pushed over.
        room = room.saturating_sub(text.len().saturating_sub(budget.0));
    }
    Ok(Fitted { value, text })
}

impl Page {
    /// The tool and its listing-selecting arguments.
    fn key(&self) -> String {
        format!("{}\0{}", self.tool, self.selection)
    }

    /// Replaces the listing with the page this call asked for, as many items as fit.
    fn cut(&self, lists: &[&str], value: &mut Value, max: usize, how: &str) -> Result<(), ToolError> {
        let Some(object) = value.as_object_mut() else { return Ok(()) };
        // A result without the listing (written to `dest`, say) has nothing to page.
        if !lists.iter().any(|name| object.get(*name).is_some_and(Value::is_array)) {
            return Ok(());
        }
        let mut listing = Vec::new();
        for (i, name) in lists.iter().enumerate() {
            if let Some(Value::Array(items)) = object.get_mut(*name) {
                listing.extend(std::mem::take(items).into_iter().map(|item| (i, item)));
            }
        }
        let total = listing.len();
        object.insert("total".into(), json!(total));
        // Room for the longest cursor of this listing, whichever page this is (a cursor is
        // unescaped text, so any text of its length takes the same room).
        object.insert("next_cursor".into(), json!("0".repeat(cursor::sealed_len(&total)?)));
        let mut used = size(object);
        let mut end = self.offset.min(total);
        let mut page: Vec<(usize, Value)> = Vec::new();
        let mut left_out = Vec::new();
        for (list, mut item) in listing.into_iter().skip(self.offset) {
            if page.len() == self.limit {
                break;
            }
            let mut bytes = size(&item) + 1;
            if used + bytes > max {
                if !page.is_empty() {
                    break;
                }
                // One item too large for any page: it comes shortened, alone.
                let room = max.saturating_sub(used + MARKER_ROOM);
                let prefix = format!("/{}/0", lists[list]);
                left_out = shorten(&mut item, room, &[]).into_iter().map(|path| format!("{prefix}{path}")).collect();
                bytes = size(&item) + 1;
            }
            used += bytes;
            end += 1;
            page.push((list, item));
            if !left_out.is_empty() {
                break;
            }
        }
        for (list, item) in page {
            if let Some(Value::Array(items)) = object.get_mut(lists[list]) {
                items.push(item);
            }
        }
        let next = if end < total { json!(cursor::seal(self.tool, &self.selection, &end)?) } else { Value::Null };
        object.insert("next_cursor".into(), next);
        mark(value, left_out, how);
        Ok(())
    }
}

/// What the marker tells the model to do for all of a shortened result.
fn how_to_get_all(policy: &RowPolicy) -> &'static str {
    if policy.files.contains(&FileArg::Write("dest")) {
        "left out to fit the result budget: call again with dest to write all of it to a file"
    } else {
        "left out to fit the result budget: make a narrower call (one item by its id, get_config_items \
         for one part's or fragment's config, a smaller limit) or raise --max-result-bytes"
    }
}

/// Names the fields left out, in `truncated`.
fn mark(value: &mut Value, left_out: Vec<String>, how: &str) {
    if left_out.is_empty() {
        return;
    }
    let Some(object) = value.as_object_mut() else { return };
    let marker = object.entry("truncated").or_insert_with(|| json!({"left_out": [], "get_all": how}));
    if let Some(Value::Array(paths)) = marker.get_mut("left_out") {
        paths.extend(left_out.into_iter().map(Value::String));
    }
}

/// Leaves out the fields that most need to go until `value` fits `room` bytes: the smallest one
/// whose removal is enough, else the largest. Returns their JSON pointers. Fields named in `keep`
/// stay at the top level.
fn shorten(value: &mut Value, room: usize, keep: &[&str]) -> Vec<String> {
    let mut left_out = Vec::new();
    loop {
        let excess = size(value).saturating_sub(room);
        if excess == 0 {
            return left_out;
        }
        let mut fields = Vec::new();
        fields_of(value, "", keep, &mut fields);
        let enough = fields.iter().filter(|f| f.bytes >= excess).min_by_key(|f| f.bytes);
        let Some(field) = enough.or_else(|| fields.iter().max_by_key(|f| f.bytes)) else { return left_out };
        let (parent, key) = (field.parent.clone(), field.key.clone());
        if let Some(Value::Object(object)) = value.pointer_mut(&parent) {
            object.remove(&key);
        }
        left_out.push(format!("{parent}/{}", escape(&key)));
    }
}

/// One object member anywhere in a value, by its parent's JSON pointer.
struct Field {
    parent: String,
    key: String,
    bytes: usize,
}

fn fields_of(value: &Value, parent: &str, keep: &[&str], out: &mut Vec<Field>) {
    match value {
        Value::Object(object) => {
            for (key, member) in object {
                if !keep.contains(&key.as_str()) {
                    // `"key":value,`
                    out.push(Field {
                        parent: parent.to_string(),
                        key: key.clone(),
                        bytes: size(member) + key.len() + 4,
                    });
                }
                fields_of(member, &format!("{parent}/{}", escape(key)), &[], out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                fields_of(item, &format!("{parent}/{i}"), &[], out);
            }
        }
        _ => {}
    }
}

/// A key as a JSON pointer token (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The bytes of compact JSON `value` takes, counted without building the text.
fn size(value: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).map_or(0, |()| count.0)
}

/// Sorted keys, so a cursor is tied to what the arguments say, not the order a client wrote them.
fn canonical(value: Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut members: Vec<(String, Value)> = object.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            members.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(members.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROBOTS: RowPolicy = RowPolicy { pages: &["robots"], ..policy() };

    const fn policy() -> RowPolicy {
        RowPolicy { scope: &[], hands_out: None, files: &[], verify: None, configs: false, dry_run: false, pages: &[] }
    }

    fn robots(n: usize) -> Value {
        let robots: Vec<Value> = (0..n).map(|i| json!({"id": format!("r{i}"), "name": "x".repeat(90)})).collect();
        json!({"robots": robots})
    }

    fn call(arguments: Value) -> Result<Option<Page>, ToolError> {
        take_page("list_robots", &ROBOTS, &mut arguments.as_object().unwrap().clone())
    }

    #[test]
    fn pages_follow_to_the_end_with_every_item_once_and_within_the_budget() {
        let budget = Budget(MIN_MAX_RESULT_BYTES);
        let mut seen = Vec::new();
        let mut arguments = json!({"location_id": "l1"});
        for pages in 1.. {
            let page = call(arguments.clone()).unwrap();
            let out = fit(&ROBOTS, page, robots(300), budget).unwrap().value;
            assert!(size(&out) <= budget.0, "{}", size(&out));
            assert_eq!(out["total"], json!(300));
            seen.extend(out["robots"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()));
            match out["next_cursor"].as_str() {
                Some(next) => arguments["cursor"] = json!(next),
                None => break,
            }
            assert!(pages < 100);
        }
        assert_eq!(seen, (0..300).map(|i| format!("r{i}")).collect::<Vec<_>>());
    }

    #[test]
    fn limit_is_bounded_and_a_cursor_is_tied_to_its_arguments() {
        for bad in [json!(0), json!(1_001), json!(-1), json!("5")] {
            let err = call(json!({"limit": bad})).err().unwrap();
            assert!(err.to_string().contains("limit"), "{err}");
        }
        let page = call(json!({"location_id": "l1", "limit": 2})).unwrap();
        let out = fit(&ROBOTS, page, robots(5), Budget::default()).unwrap().value;
        assert_eq!(out["robots"].as_array().unwrap().len(), 2);
        let next = out["next_cursor"].as_str().unwrap();
        // Another limit may follow; other arguments may not.
        assert!(call(json!({"location_id": "l1", "cursor": next, "limit": 3})).is_ok());
        let err = call(json!({"location_id": "l2", "cursor": next})).err().unwrap();
        assert_eq!(err.code(), "invalid_arguments");
        assert!(err.to_string().contains("cursor"), "{err}");
    }

    #[test]
    fn a_single_item_too_large_is_shortened_with_a_marker() {
        let config = json!({"components": (0..400).map(|i| json!({"name": format!("c{i}")})).collect::<Vec<_>>()});
        let big = json!({"part": {"id": "p1", "name": "main", "robot_config": config}});
        let dest = RowPolicy { files: &[FileArg::Write("dest")], ..policy() };
        let fitted = fit(&dest, None, big, Budget(MIN_MAX_RESULT_BYTES)).unwrap();
        // The text the client gets is the shortened result's.
        assert_eq!(fitted.text, compact(&fitted.value));
        let out = fitted.value;
        assert!(fitted.text.len() <= MIN_MAX_RESULT_BYTES);
        assert_eq!(out["part"]["id"], json!("p1"));
        // The smallest field whose leaving out is enough.
        assert_eq!(out["truncated"]["left_out"], json!(["/part/robot_config/components"]));
        assert!(out["truncated"]["get_all"].as_str().unwrap().contains("dest"));
        // A page's one item too large comes alone, shortened, and paging goes on.
        let mut list = robots(3);
        list["robots"][0]["config"] = json!("y".repeat(10_000));
        let out = fit(&ROBOTS, call(json!({})).unwrap(), list, Budget(MIN_MAX_RESULT_BYTES)).unwrap().value;
        assert_eq!(out["robots"].as_array().unwrap().len(), 1);
        assert_eq!(out["truncated"]["left_out"], json!(["/robots/0/config"]));
        assert!(out["next_cursor"].is_string());
        assert!(size(&out) <= MIN_MAX_RESULT_BYTES);
    }

    #[test]
    fn a_result_within_the_budget_is_untouched() {
        let small = json!({"organization": {"id": "o"}});
        let out = fit(&policy(), None, small.clone(), Budget::default()).unwrap();
        assert_eq!(out.value, small);
        assert_eq!(out.text, r#"{"organization":{"id":"o"}}"#);
    }
}
