//! MCP over stdio. rmcp's line transport reads every message as an untagged union of the message
//! kinds and then of the request types: a `tools/call` is tried against thirteen other request
//! types first, and each refusal builds an error. Here a `tools/call` request is read straight into
//! its type; every other line goes through rmcp's own codec, so what is accepted, ignored or
//! refused stays rmcp's. The rest follows rmcp's transport: rmcp's non-blocking pipes, lines
//! bounded at 16 MiB (a longer one is dropped and the session goes on), and frames that stay whole
//! even when a read is cancelled. Where rmcp's transport ignores a line that is not JSON and
//! answers JSON that is not a message without its id, here the first gets Parse error and the
//! second Invalid Request with the request's id when it can be read, as JSON-RPC asks. A tool
//! result's frame is written with its text once (see [`Frames::queue`]).
use crate::json_text::escape_into;
use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequest, CallToolResult, ClientRequest, ContentBlock, ErrorData, JsonRpcMessage, JsonRpcResponse,
    RequestId, ServerResult, TextContent,
};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::async_rw::{DEFAULT_MAX_LINE_LENGTH, JsonRpcMessageCodec, JsonRpcMessageCodecError};
use rmcp::transport::{StdioReader, StdioWriter, Transport};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;
use tokio_util::bytes::{BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

type Codec<T> = JsonRpcMessageCodec<T>;

/// Above this, a line read or a frame written is freed once done with rather than kept for the next
/// ones: one big message (an upload's arguments, a fleet-wide listing) would otherwise stay resident
/// for the rest of the session, idle or not. Most messages are smaller, and reuse the buffer.
pub(crate) const KEPT_BUFFER_BYTES: usize = 64 << 10;

/// Above this much text, a result's tree is freed before its frame is built, so that the two are
/// never held at once; a smaller one's after the frame is written, off the answer's path.
const TREE_FREED_FIRST_BYTES: usize = 1 << 20;

pub struct Stdio {
    read: BufReader<StdioReader>,
    line: Vec<u8>,
    /// Dropping the rest of a line that was too long.
    discarding: bool,
    out: Arc<Mutex<Option<Out>>>,
    refusal: Option<Refusal>,
}

/// The error answer owed for a line that is not a message: its frame queued, then written.
/// `receive` can be cancelled between the two; the step it reached is kept.
enum Refusal {
    Queue(Vec<u8>),
    Write,
}

struct Out {
    writer: StdioWriter,
    frames: Frames,
}

/// Frames not yet written. A write cut short by cancellation leaves its rest here, and the next
/// write finishes it first, so frames never interleave.
#[derive(Default)]
struct Frames {
    queued: BytesMut,
}

/// Where a tool result's text and structured content go in its frame: the text block's text is
/// encoded empty and the value as `null`, and both are put in their places after. Nothing can sit
/// between them: the one text block has no annotations and no `_meta`.
const PLACEHOLDERS: &[u8] = br#""text":""}],"structuredContent":null"#;

impl Frames {
    /// Queues the message's frame, encoded by rmcp's codec. A tool result's structured content is
    /// the value its one text block holds as text (`server::structured` writes the text from the
    /// value), so the frame takes that text twice instead of serializing the value again: escaped
    /// as the text block's string, and as it is in the value's place. The value is handed back, to
    /// be freed once the frame is written, off the answer's path; over [`TREE_FREED_FIRST_BYTES`],
    /// it is freed first instead.
    fn queue(&mut self, message: &mut TxJsonRpcMessage<RoleServer>) -> io::Result<Value> {
        let taken = tool_result(message).map(|(text, value)| {
            debug_assert_eq!(serde_json::to_string(&*value).ok().as_ref(), Some(&*text), "the text is the value's");
            let (text, value) = (std::mem::take(text), std::mem::take(value));
            let kept = if text.len() > TREE_FREED_FIRST_BYTES { Value::Null } else { value };
            (text, kept)
        });
        let start = self.queued.len();
        Codec::<&TxJsonRpcMessage<RoleServer>>::default().encode(message, &mut self.queued).map_err(io::Error::from)?;
        let Some((text, value)) = taken else { return Ok(Value::Null) };
        // Only `isError` follows the placeholders, so they are found from the end.
        let frame = &self.queued[start..];
        let found = frame.windows(PLACEHOLDERS.len()).rposition(|w| w == PLACEHOLDERS);
        let at = start + found.expect("the placeholders were just written");
        let rest = self.queued.split_off(at + PLACEHOLDERS.len());
        self.queued.truncate(at);
        // Escaped into a `Vec`, which takes a byte in fewer instructions than `BytesMut`; a JSON text
        // escaped takes about an eighth more, since it has a quote every few bytes.
        let mut escaped = Vec::with_capacity(text.len() + text.len() / 8);
        escape_into(&mut escaped, &text);
        self.queued.reserve(escaped.len() + text.len() + PLACEHOLDERS.len() + rest.len());
        self.queued.extend_from_slice(br#""text":""#);
        self.queued.extend_from_slice(&escaped);
        self.queued.extend_from_slice(br#""}],"structuredContent":"#);
        self.queued.extend_from_slice(text.as_bytes());
        self.queued.extend_from_slice(&rest);
        Ok(value)
    }

    /// After all of `bytes` went out: a buffer that big is freed, not kept for the next frames.
    fn written(&mut self, bytes: usize) {
        if bytes > KEPT_BUFFER_BYTES {
            self.queued = BytesMut::new();
        }
    }
}

impl Out {
    async fn write(&mut self) -> io::Result<()> {
        let bytes = self.frames.queued.len();
        self.writer.write_all_buf(&mut self.frames.queued).await?;
        self.frames.written(bytes);
        self.writer.flush().await
    }
}

/// A tool result whose frame can take its text block as its structured content (one plain text
/// block, structured content, and no `_meta`): its text and its value.
fn tool_result(message: &mut TxJsonRpcMessage<RoleServer>) -> Option<(&mut String, &mut Value)> {
    let JsonRpcMessage::Response(JsonRpcResponse { result: ServerResult::CallToolResult(result), .. }) = message else {
        return None;
    };
    let CallToolResult { content, structured_content: Some(value), meta: None, .. } = result else { return None };
    let [ContentBlock::Text(TextContent { text, meta: None, annotations: None, .. })] = content.as_mut_slice() else {
        return None;
    };
    Some((text, value))
}

/// The server's side of stdio.
pub fn stdio() -> Stdio {
    let (read, writer) = rmcp::transport::stdio_pipes();
    let out = Out { writer, frames: Frames::default() };
    Stdio {
        read: BufReader::new(read),
        line: Vec::new(),
        discarding: false,
        out: Arc::new(Mutex::new(Some(out))),
        refusal: None,
    }
}

impl Stdio {
    /// Reads up to the next newline into `line`; `false` at the end of input. A line longer than
    /// the bound is dropped whole. Cancellation-safe: the only await is `fill_buf`, and what it
    /// returned is copied and consumed without another.
    async fn read_line(&mut self) -> io::Result<bool> {
        loop {
            let available = self.read.fill_buf().await?;
            if available.is_empty() {
                return Ok(false);
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let take = newline.map_or(available.len(), |i| i + 1);
            let mut done = false;
            if self.discarding {
                self.discarding = newline.is_none();
            } else if self.line.len() + take > DEFAULT_MAX_LINE_LENGTH {
                tracing::error!(
                    max_line_length = DEFAULT_MAX_LINE_LENGTH,
                    "Incoming message exceeded the maximum line length, discarding it"
                );
                empty_line(&mut self.line);
                self.discarding = newline.is_none();
            } else {
                self.line.extend_from_slice(&available[..take]);
                done = newline.is_some();
            }
            self.read.consume(take);
            if done {
                return Ok(true);
            }
        }
    }

    async fn answer_refusal(&mut self) -> io::Result<()> {
        let mut out = self.out.lock().await;
        let out = out.as_mut().ok_or_else(closed)?;
        if let Some(Refusal::Queue(frame)) = self.refusal.replace(Refusal::Write) {
            out.frames.queued.extend_from_slice(&frame);
        }
        out.write().await?;
        self.refusal = None;
        Ok(())
    }
}

/// The frame answering a line that is not a message: Parse error when it is not JSON (an echo of the
/// answer, a response, needs no answer in turn), else Invalid Request, with the request's id when it
/// can be read and `"id": null` when not.
pub(crate) fn refusal(line: &[u8]) -> Vec<u8> {
    let (id, error) = match serde_json::from_slice::<Value>(line) {
        Err(_) => (None, ErrorData::parse_error("Parse error", None)),
        Ok(value) => {
            let id = value.get("id").and_then(|id| RequestId::deserialize(id).ok());
            (id, ErrorData::invalid_request("Invalid request", None))
        }
    };
    #[derive(Serialize)]
    struct Refused {
        jsonrpc: &'static str,
        id: Option<RequestId>,
        error: ErrorData,
    }
    let mut frame = serde_json::to_vec(&Refused { jsonrpc: "2.0", id, error }).unwrap_or_default();
    frame.push(b'\n');
    frame
}

/// Empties a line buffer, freeing it if one line made it big, and what reading it took once the
/// server is idle.
fn empty_line(line: &mut Vec<u8>) {
    if line.capacity() > KEPT_BUFFER_BYTES {
        *line = Vec::new();
        crate::server::return_heap_when_idle();
    } else {
        line.clear();
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "Transport is closed")
}

impl Transport<RoleServer> for Stdio {
    type Error = io::Error;

    fn send(
        &mut self,
        mut message: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static {
        let out = self.out.clone();
        async move {
            let mut out = out.lock().await;
            let out = out.as_mut().ok_or_else(closed)?;
            let spent = out.frames.queue(&mut message)?;
            let written = out.write().await;
            drop(spent);
            written
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            if self.refusal.is_some() && self.answer_refusal().await.is_err() {
                return None;
            }
            match self.read_line().await {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    tracing::error!("Error reading from stream: {e}");
                    return None;
                }
            }
            let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let blank = line.iter().all(u8::is_ascii_whitespace);
            let parsed = if blank { Ok(None) } else { parse(line) };
            let answer = match parsed {
                Ok(Some(message)) => {
                    empty_line(&mut self.line);
                    return Some(message);
                }
                Ok(None) => None,
                Err(JsonRpcMessageCodecError::Serde(e)) => {
                    tracing::debug!("Protocol error on incoming message: {e}");
                    Some(refusal(line))
                }
                Err(e) => {
                    tracing::error!("Error reading from stream: {e}");
                    return None;
                }
            };
            self.refusal = answer.map(Refusal::Queue);
            empty_line(&mut self.line);
        }
    }

    async fn close(&mut self) -> io::Result<()> {
        self.out.lock().await.take();
        Ok(())
    }
}

/// One line: a message, `None` for one rmcp ignores (a non-MCP notification), or why it is not one.
fn parse(line: &[u8]) -> Result<Option<RxJsonRpcMessage<RoleServer>>, JsonRpcMessageCodecError> {
    if let Some(call) = tool_call(line) {
        return Ok(Some(call));
    }
    let mut framed = BytesMut::with_capacity(line.len() + 1);
    framed.extend_from_slice(line);
    framed.put_u8(b'\n');
    Codec::<RxJsonRpcMessage<RoleServer>>::default().decode(&mut framed)
}

/// A plain `tools/call` request, read as rmcp reads it but without trying every other request type
/// first; `None` for any other line, or one with anything unusual (another member, a non-2.0
/// version, an escaped method name), which then goes rmcp's way.
fn tool_call(line: &[u8]) -> Option<RxJsonRpcMessage<RoleServer>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Envelope<'a> {
        jsonrpc: &'a str,
        id: RequestId,
        method: &'a str,
        #[serde(borrow, rename = "params")]
        _params: &'a RawValue,
    }
    let envelope: Envelope = serde_json::from_slice(line).ok()?;
    if envelope.jsonrpc != "2.0" || envelope.method != "tools/call" {
        return None;
    }
    let request: CallToolRequest = serde_json::from_slice(line).ok()?;
    Some(JsonRpcMessage::request(ClientRequest::CallToolRequest(request), envelope.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::error::Category;
    use serde_json::{Value, json};

    fn by_rmcp(line: &str) -> Value {
        let mut framed = BytesMut::from(format!("{line}\n").as_bytes());
        let message = Codec::<RxJsonRpcMessage<RoleServer>>::default().decode(&mut framed).unwrap().unwrap();
        serde_json::to_value(message).unwrap()
    }

    #[test]
    fn a_tool_call_reads_as_rmcp_reads_it() {
        let calls = [
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "list_organizations"}}),
            json!({"jsonrpc": "2.0", "id": "a-1", "method": "tools/call",
                "params": {"name": "get_robot_part", "arguments": {"robot_part_id": "p", "dest": null, "n": [1, 2.5, {"x": true}]}}}),
            json!({"params": {"_meta": {"progressToken": "t", "other": 1}, "name": "delete_robot", "arguments": {"robot_id": "r", "confirm": true}},
                "method": "tools/call", "id": 9, "jsonrpc": "2.0"}),
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                "params": {"name": "delete_robot", "arguments": {}, "requestState": "s", "inputResponses": {}}}),
        ];
        for call in calls {
            let line = call.to_string();
            let direct = tool_call(line.as_bytes()).unwrap_or_else(|| panic!("{line} was not read directly"));
            assert_eq!(serde_json::to_value(direct).unwrap(), by_rmcp(&line), "{line}");
        }
    }

    #[test]
    fn anything_else_goes_rmcps_way() {
        let others = [
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}),
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}),
            // A stray member: rmcp refuses such a message, so it must see it.
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "x"}, "result": {}}),
            json!({"jsonrpc": "1.0", "id": 1, "method": "tools/call", "params": {"name": "x"}}),
            json!({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "x"}}),
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"arguments": {}}}),
        ];
        for other in others {
            assert!(tool_call(other.to_string().as_bytes()).is_none(), "{other}");
        }
        assert!(tool_call(br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"x"}}"#).is_none());
        // What rmcp answers, through `parse`: ignored, refused, or read.
        // A non-MCP notification rmcp cannot read is ignored, not refused.
        assert!(matches!(parse(br#"{"jsonrpc":"2.0","method":"$/x","params":3}"#), Ok(None)));
        let refused = parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"},"result":{}}"#);
        assert!(matches!(refused, Err(JsonRpcMessageCodecError::Serde(e)) if e.classify() == Category::Data));
        assert!(
            matches!(parse(b"not json"), Err(JsonRpcMessageCodecError::Serde(e)) if e.classify() == Category::Syntax)
        );
        assert!(matches!(parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#), Ok(Some(_))));
    }

    #[test]
    fn a_tool_result_frame_is_byte_for_byte_rmcps() {
        let value = json!({"part": {"name": "rover \"1\"\n", "config": {"π": 3.25, "list": [1, null, true]}, "id": "p",
            "path": "C:\\robots\\\u{1}\t日本🤖", "long": "x".repeat(100) + "\""}});
        // Over the bound, the value is freed before the frame is written rather than handed back.
        let big = json!({"log": "\"".repeat(TREE_FREED_FIRST_BYTES / 2)});
        let mut results = vec![];
        for (value, handed_back) in [(value, true), (big, false)] {
            let text = serde_json::to_string(&value).unwrap();
            let mut success = CallToolResult::success(vec![ContentBlock::text(text.clone())]);
            success.structured_content = Some(value.clone());
            let mut error = CallToolResult::error(vec![ContentBlock::text(text.clone())]);
            error.structured_content = Some(value.clone());
            let unstructured = CallToolResult::success(vec![ContentBlock::text(text)]);
            let value = || if handed_back { value.clone() } else { Value::Null };
            results.extend([(success, value()), (error, value()), (unstructured, Value::Null)]);
        }
        for (i, (result, handed_back)) in results.into_iter().enumerate() {
            let message =
                || JsonRpcMessage::response(ServerResult::CallToolResult(result.clone()), RequestId::Number(7));
            let mut ours = Frames::default();
            assert_eq!(ours.queue(&mut message()).unwrap(), handed_back, "result {i}");
            // A frame queued after it is untouched.
            ours.queue(&mut message()).unwrap();
            let mut theirs = BytesMut::new();
            Codec::default().encode(message(), &mut theirs).unwrap();
            Codec::default().encode(message(), &mut theirs).unwrap();
            assert!(ours.queued == theirs, "result {i}");
        }
    }

    /// A big result's frame does not stay resident once written; smaller frames reuse the buffer.
    #[test]
    fn a_big_frames_buffer_is_freed_once_written() {
        use tokio_util::bytes::Buf;
        let mut frames = Frames::default();
        for bytes in [KEPT_BUFFER_BYTES, KEPT_BUFFER_BYTES + 1] {
            frames.queued.put_bytes(b'x', bytes);
            frames.queued.advance(bytes); // as a write does
            frames.written(bytes);
            // As the next frame's encoding does: an emptied buffer is reused from its start.
            frames.queued.reserve(1);
            let capacity = frames.queued.capacity();
            if bytes > KEPT_BUFFER_BYTES {
                assert!(capacity < 4096, "{capacity} bytes kept after a frame of {bytes}");
            } else {
                assert!(capacity >= bytes, "{capacity} bytes kept after a frame of {bytes}");
            }
        }
    }

    /// The same for a line read: a big one's buffer is freed, a smaller one's kept.
    #[test]
    fn a_big_lines_buffer_is_freed_once_read() {
        for (bytes, kept) in [(KEPT_BUFFER_BYTES, true), (KEPT_BUFFER_BYTES + 1, false)] {
            let mut line = vec![b'x'; bytes];
            empty_line(&mut line);
            assert!(line.is_empty());
            assert_eq!(line.capacity() >= bytes, kept, "a line of {bytes} bytes");
        }
    }
}
