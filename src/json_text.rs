//! JSON text exactly as serde_json writes it, in fewer instructions. A tool result's text, and that
//! text again as its frame's text block, are most of what a call spends on JSON: serde_json writes
//! a string through its writer a fragment at a time, between every two escapes, and a JSON text
//! held as a string has a quote every few bytes.
use serde_json::Value;
use tokio_util::bytes::BufMut;

/// For each byte, what follows the backslash that escapes it (`u` for `\u00XX`), or 0 for a byte
/// written as it is: serde_json's escapes.
const ESCAPES: [u8; 256] = {
    let mut escapes = [0; 256];
    let mut control = 0;
    while control < 0x20 {
        escapes[control] = b'u';
        control += 1;
    }
    escapes[0x08] = b'b';
    escapes[0x09] = b't';
    escapes[0x0a] = b'n';
    escapes[0x0c] = b'f';
    escapes[0x0d] = b'r';
    escapes[b'"' as usize] = b'"';
    escapes[b'\\' as usize] = b'\\';
    escapes
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The compact text of `value`, byte for byte what `serde_json::to_string` writes.
pub fn compact(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value);
    String::from_utf8(out).expect("JSON text is written from strings and ASCII")
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => serde_json::to_writer(&mut *out, number).expect("a number always serializes"),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(members) => {
            out.push(b'{');
            for (i, (key, member)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, key);
                out.push(b':');
                write_value(out, member);
            }
            out.push(b'}');
        }
    }
}

fn write_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    escape_into(out, text);
    out.push(b'"');
}

/// Appends `text` escaped as a JSON string's contents (without the quotes), as serde_json escapes
/// it. Eight bytes are tested at a time; only a word holding a byte to escape is written bytewise.
pub fn escape_into(out: &mut impl BufMut, text: &str) {
    let mut words = text.as_bytes().chunks_exact(8);
    for word in &mut words {
        if needs_escape(u64::from_le_bytes(word.try_into().expect("a chunk of eight"))) {
            word.iter().for_each(|&byte| escape_byte(out, byte));
        } else {
            out.put_slice(word);
        }
    }
    words.remainder().iter().for_each(|&byte| escape_byte(out, byte));
}

/// Whether any byte of `word` is a control character, a quote or a backslash. Exact for "any": a
/// borrow can only run on from a byte that is one of them.
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    let below = |word: u64, limit: u8| word.wrapping_sub(ONES * limit as u64) & !word & HIGH;
    let zero = |word: u64| below(word, 1);
    (below(word, 0x20) | zero(word ^ (ONES * b'"' as u64)) | zero(word ^ (ONES * b'\\' as u64))) != 0
}

fn escape_byte(out: &mut impl BufMut, byte: u8) {
    match ESCAPES[byte as usize] {
        0 => out.put_u8(byte),
        b'u' => out.put_slice(&[b'\\', b'u', b'0', b'0', HEX[(byte >> 4) as usize], HEX[(byte & 0xf) as usize]]),
        escape => out.put_slice(&[b'\\', escape]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        escape_into(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    /// Every ASCII byte at every place in a word, and in the tail after the last whole word.
    #[test]
    fn every_byte_is_escaped_as_serde_json_escapes_it() {
        for byte in 0..0x80u8 {
            for at in 0..19 {
                let mut text = vec![b'a'; 19];
                text[at] = byte;
                let text = String::from_utf8(text).unwrap();
                let theirs = serde_json::to_string(&text).unwrap();
                assert_eq!(escaped(&text), theirs[1..theirs.len() - 1], "byte {byte:#04x} at {at}");
            }
        }
    }

    #[test]
    fn text_beyond_ascii_and_runs_of_escapes_are_serde_jsons() {
        let texts = [
            "",
            "π",
            "rover \"1\"\n\\x",
            "\u{7f}\u{1f}\u{0}é日本語🤖\r\t\u{8}\u{c}\"\"\"\"\"\"\"\"\"",
            "{\"a\":\"\\\"\"}",
        ];
        for text in texts {
            let theirs = serde_json::to_string(text).unwrap();
            assert_eq!(escaped(text), theirs[1..theirs.len() - 1], "{text:?}");
        }
    }

    #[test]
    fn a_values_text_is_serde_jsons() {
        let values = [
            json!(null),
            json!({}),
            json!([]),
            json!({"part": {"name": "rover \"1\"\n", "config": {"π": 3.25, "n": -7, "big": 18446744073709551615u64,
                "tiny": 1e-300, "whole": 217.0, "list": [1, null, true, false, [], {}, "\u{1}"]}, "id": "p"}}),
        ];
        for value in values {
            assert_eq!(compact(&value), serde_json::to_string(&value).unwrap());
        }
    }
}
