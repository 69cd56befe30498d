//! CSV and TSV catalogs, with the delimiter the extension or the user
//! says; rows of another width than the header are kept and reported.

use std::path::Path;

use super::{Cell, Row};
use crate::error::{Error, Result};

pub(super) fn csv_rows(path: &Path, name: &str, delim: u8, f: &mut dyn FnMut(&[String], Row) -> bool) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delim)
        .flexible(true)
        .from_path(path)
        .map_err(|e| Error::input(path, e.to_string()))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::input(path, format!("line 1: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let mut cells: Vec<Cell> = record.iter().map(csv_cell).collect();
                let extra = if cells.len() > header.len() { cells.split_off(header.len()) } else { Vec::new() };
                cells.resize(header.len(), Cell::Null);
                if !f(&header, Row { locator: format!("{name}:{line}"), cells, extra }) {
                    return Ok(());
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(Error::input(path, format!("line {line}: {e}")));
            }
        }
    }
}

pub(super) fn csv_cell(s: &str) -> Cell {
    let t = s.trim();
    if t.is_empty() { Cell::Null } else { Cell::Text(t.to_string()) }
}
