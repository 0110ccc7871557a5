//! Opaque paging cursors: a position sealed (HMAC) together with the tool and the arguments that
//! select the list, so a cursor from another tool, from altered arguments or edited by hand is
//! refused instead of silently paging through a different list. The key is fixed, not per process:
//! the seal guards against mistakes, not forgery (a forged position only pages from elsewhere in a
//! list the caller may read anyway), and a fixed key lets cursors outlive a server restart and work
//! across `viam-fleet-mcp call` invocations.
use crate::error::ToolError;
use rmcp::model::{RequestStateCodec, SealOptions};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex, PoisonError};

static CODEC: LazyLock<RequestStateCodec> = LazyLock::new(|| {
    RequestStateCodec::try_new(b"viam-fleet-mcp paging cursors: integrity, not secrecy".to_vec())
        .expect("the key is long enough")
});

/// What a cursor is bound to: the tool and its list-selecting arguments (not `limit`, which may
/// change from page to page, nor the cursor itself).
fn binding(tool: &str, selection: &impl Serialize) -> Result<Vec<u8>, ToolError> {
    let selection = serde_json::to_vec(selection).map_err(|e| ToolError::local(format!("cursor binding: {e}")))?;
    Ok([tool.as_bytes(), b"\0", &selection].concat())
}

/// The cursor that resumes `tool`'s listing of `selection` at `position`.
pub fn seal<P: Serialize>(tool: &str, selection: &impl Serialize, position: &P) -> Result<String, ToolError> {
    let binding = binding(tool, selection)?;
    CODEC
        .seal_json_with(position, &SealOptions::new().associated_data(&binding))
        .map_err(|e| ToolError::local(format!("cannot seal the cursor: {e}")))
}

/// The length of the cursor that would hold `position`, without sealing one: a cursor's length
/// depends only on its position's JSON length (the key and the binding are not in it), so each
/// length is measured once. A page reserves room for its cursor before it knows if it needs one.
pub fn sealed_len<P: Serialize>(position: &P) -> Result<usize, ToolError> {
    static LENGTHS: Mutex<BTreeMap<usize, usize>> = Mutex::new(BTreeMap::new());
    let payload = serde_json::to_vec(position).map_err(|e| ToolError::local(format!("cursor position: {e}")))?.len();
    let mut lengths = LENGTHS.lock().unwrap_or_else(PoisonError::into_inner);
    Ok(*lengths.entry(payload).or_insert_with(|| CODEC.seal_with(&vec![b'0'; payload], &SealOptions::new()).len()))
}

/// The position a cursor holds, if it was made by this server process for this tool and selection.
pub fn open<P: DeserializeOwned>(tool: &str, selection: &impl Serialize, cursor: &str) -> Result<P, ToolError> {
    let binding = binding(tool, selection)?;
    CODEC.open_json_with(cursor, &binding).map_err(|_| {
        ToolError::invalid(format!(
            "cursor: not a cursor of this {tool} call; pass next_cursor from the previous page unchanged, with \
             the same arguments (only limit may change), or omit cursor to start again"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cursor_opens_only_for_its_tool_and_selection() {
        let selection = json!({"org_id": "o1", "online_state": "offline"});
        let cursor = seal("list_machine_summaries", &selection, &json!(["Lab", "m1"])).unwrap();
        let position: serde_json::Value = open("list_machine_summaries", &selection, &cursor).unwrap();
        assert_eq!(position, json!(["Lab", "m1"]));
        let altered = json!({"org_id": "o1", "online_state": "online"});
        for (tool, selection) in [("list_machine_summaries", &altered), ("list_robots", &selection)] {
            let err = open::<serde_json::Value>(tool, selection, &cursor).unwrap_err();
            assert_eq!(err.code(), "invalid_arguments");
            assert!(err.to_string().contains("cursor"), "{err}");
        }
        let mut edited = cursor.clone();
        edited.insert(cursor.len() / 2, 'x');
        assert!(open::<serde_json::Value>("list_machine_summaries", &selection, &edited).is_err());
    }

    #[test]
    fn a_cursors_length_is_known_without_sealing_it() {
        for position in [json!(0), json!(7), json!(123_456), json!(["Lab", "m1"]), json!(["a much longer name", "m-2"])]
        {
            for selection in [json!({}), json!({"org_id": "o1", "online_state": "offline", "name": "x".repeat(300)})] {
                let cursor = seal("list_robots", &selection, &position).unwrap();
                assert_eq!(sealed_len(&position).unwrap(), cursor.len(), "{position} {selection}");
            }
        }
    }
}
