//! JSON text exactly as serde_json writes it, in fewer instructions. Every call writes its result's
//! text, and that text again escaped as its frame's text block. serde_json writes a string through
//! its writer a fragment at a time, between every two escapes, and a JSON text held as a string has
//! a quote every few bytes.
use serde_json::Value;

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
/// it, eight bytes at a time: the bytes between two escapes are written as a whole word.
pub fn escape_into(out: &mut Vec<u8>, text: &str) {
    let mut words = text.as_bytes().chunks_exact(8);
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().expect("a chunk of eight"));
        let mut to_escape = to_escape(word);
        let mut from = 0;
        while to_escape != 0 {
            let at = to_escape.trailing_zeros() / 8;
            put_word_part(out, word, from, at);
            escape_byte(out, (word >> (8 * at)) as u8);
            from = at + 1;
            to_escape &= to_escape - 1;
        }
        put_word_part(out, word, from, 8);
    }
    words.remainder().iter().for_each(|&byte| escape_byte(out, byte));
}

/// Appends bytes `from..to` of `word`. All eight bytes from `from` on are written and the rest
/// cut off again: a fixed-size copy costs far less than a slice of varying length.
fn put_word_part(out: &mut Vec<u8>, word: u64, from: u32, to: u32) {
    let len = out.len();
    out.extend_from_slice(&word.checked_shr(8 * from).unwrap_or(0).to_le_bytes());
    out.truncate(len + (to - from) as usize);
}

/// The high bit of each byte of `word` that is a control character, a quote or a backslash.
fn to_escape(word: u64) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const LOW_SEVEN: u64 = ONES * 0x7f;
    // Exact per byte (no borrow runs from one byte into the next): set where the byte is zero.
    let zero = |word: u64| !(((word & LOW_SEVEN) + LOW_SEVEN) | word | LOW_SEVEN);
    zero(word & (ONES * 0xe0)) | zero(word ^ (ONES * b'"' as u64)) | zero(word ^ (ONES * b'\\' as u64))
}

fn escape_byte(out: &mut Vec<u8>, byte: u8) {
    match ESCAPES[byte as usize] {
        0 => out.push(byte),
        b'u' => {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(byte >> 4) as usize], HEX[(byte & 0xf) as usize]])
        }
        escape => out.extend_from_slice(&[b'\\', escape]),
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

    /// Two bytes of a kind, or of two kinds, at every two places of a word and its tail.
    #[test]
    fn escapes_together_in_a_word_are_serde_jsons() {
        let kinds = ["\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "a"];
        for (first, second) in kinds.iter().flat_map(|a| kinds.iter().map(move |b| (a, b))) {
            for (i, j) in (0..11).flat_map(|i| (i + 1..11).map(move |j| (i, j))) {
                let mut text: Vec<String> = vec!["x".into(); 11];
                text[i] = first.to_string();
                text[j] = second.to_string();
                let text = text.concat();
                let theirs = serde_json::to_string(&text).unwrap();
                assert_eq!(escaped(&text), theirs[1..theirs.len() - 1], "{text:?}");
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
