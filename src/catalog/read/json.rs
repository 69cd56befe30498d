//! JSON catalogs: an array of objects, or one object per line, streamed
//! without holding the file in memory.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::Value;

use super::{Cell, Row};
use crate::error::{Error, Result};

pub(super) fn json_cell(v: &Value) -> Cell {
    match v {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Num(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64().map_or(Cell::Null, Cell::Num),
        Value::String(s) if s.trim().is_empty() => Cell::Null,
        Value::String(s) => Cell::Text(s.clone()),
        Value::Array(items) => Cell::List(items.iter().map(json_cell).collect()),
        Value::Object(_) => Cell::Text(v.to_string()),
    }
}

/// JSON objects become rows; the header is the union of keys in order of
/// first appearance among the first 1,000 objects (later new keys are kept
/// too, appended).
pub(super) fn json_rows(path: &Path, name: &str, f: &mut dyn FnMut(&[String], Row) -> bool) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::new(file);
    let first = loop {
        let buf = reader.fill_buf().map_err(|e| Error::io(path, e))?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF) {
            Some(i) => {
                let c = buf[i];
                reader.consume(i);
                break c;
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    };
    let mut header: Vec<String> = Vec::new();
    let mut emit = |obj: Value, locator: String| -> std::result::Result<bool, String> {
        let Value::Object(map) = obj else {
            return Err(format!("{locator}: expected a JSON object per track"));
        };
        for k in map.keys() {
            if !header.contains(k) {
                header.push(k.clone());
            }
        }
        let cells = header.iter().map(|k| map.get(k).map_or(Cell::Null, json_cell)).collect();
        Ok(f(&header, Row { locator, cells, extra: Vec::new() }))
    };
    if first == b'[' {
        json_array(reader, name, &mut emit).map_err(|e| Error::input(path, e))
    } else {
        for (i, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| Error::io(path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let locator = format!("{name}:{}", i + 1);
            let value: Value =
                serde_json::from_str(&line).map_err(|e| Error::input(path, format!("line {}: {e}", i + 1)))?;
            if !emit(value, locator).map_err(|e| Error::input(path, e))? {
                break;
            }
        }
        Ok(())
    }
}

/// Streams the elements of a top-level JSON array without loading it whole.
fn json_array(
    reader: impl Read,
    name: &str,
    emit: &mut dyn FnMut(Value, String) -> std::result::Result<bool, String>,
) -> std::result::Result<(), String> {
    use serde::de::{Deserializer, SeqAccess, Visitor};
    struct Elements<'a> {
        name: &'a str,
        emit: &'a mut dyn FnMut(Value, String) -> std::result::Result<bool, String>,
    }
    impl<'de> Visitor<'de> for Elements<'_> {
        type Value = std::result::Result<(), String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of track objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
            let mut i = 0usize;
            while let Some(v) = seq.next_element::<Value>()? {
                i += 1;
                match (self.emit)(v, format!("{}: element {i}", self.name)) {
                    Ok(true) => {}
                    Ok(false) => {
                        // Drain the rest so the parser can finish cleanly.
                        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                        return Ok(Ok(()));
                    }
                    Err(e) => return Ok(Err(e)),
                }
            }
            Ok(Ok(()))
        }
    }
    let mut de = serde_json::Deserializer::from_reader(reader);
    de.deserialize_seq(Elements { name, emit }).map_err(|e| e.to_string())?
}
