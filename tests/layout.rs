//! The source tree keeps the shape the README's "Repository layout"
//! describes: layers as folders that import only downward, no import
//! cycles between files, a thin `main`, files that do one job.
//!
//! Imports are read from the source text: every `crate::`, `super::` and
//! `self::` path (use declarations and inline paths alike, groups
//! included), outside comments, resolved to the deepest module file that
//! exists. A parent module naming its children (`mod`, re-exports) is not
//! an edge; a child using its parent is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's top-level modules and their layers, lowest first. A module
/// may import from its own layer and from the ones before it; layers that share a rank (the
/// cluster and learning both sit on a finished run) import neither way.
const LAYERS: &[(&str, &str, u32)] = &[
    ("error", "base", 0),
    ("atomic", "base", 0),
    ("rng", "base", 0),
    ("engine", "engine", 1),
    ("catalog", "catalog", 2),
    ("recommend", "recommend", 3),
    ("run", "run", 4),
    ("after", "after", 5),
    ("cluster", "cluster", 6),
    ("learn", "learn", 6),
    ("video", "video", 6),
    ("tools", "tools", 7),
];

const MAX_LINES: usize = 500;
const MAX_MAIN_LINES: usize = 130;
const MAX_ROOT_FILES: usize = 12;

/// Module path (`engine::decode::limits`) → its file, for the library.
fn library_modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for file in rust_files(src) {
        let rel = file.strip_prefix(src).unwrap().with_extension("");
        let mut segs: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        if segs[0] == "main" || segs[0] == "cli" {
            continue; // the binary: its own crate
        }
        if matches!(segs.last().map(String::as_str), Some("mod" | "lib")) {
            segs.pop();
        }
        out.insert(segs.join("::"), file);
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The text without `//` comments (doc comments included) and string
/// literals (raw ones with one `#` too), so that paths named in prose or messages are not imports.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"r#\"") {
            let end = text[i + 3..].find("\"#").map_or(b.len(), |e| i + 3 + e + 2);
            out.push_str("\"\"");
            i = end;
        } else if b[i] == b'"' && (i == 0 || b[i - 1] != b'\'') {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

fn ident_at(b: &[u8], mut i: usize) -> (String, usize) {
    let start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    (String::from_utf8_lossy(&b[start..i]).into_owned(), i)
}

/// The paths of one use tree starting at `i` (after `crate::` and the
/// like), each as its segments; returns where the tree ends.
fn paths_at(b: &[u8], mut i: usize, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix.to_vec();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'{' {
            i += 1;
            loop {
                while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
                    i += 1;
                }
                if i >= b.len() || b[i] == b'}' {
                    return i + 1;
                }
                i = paths_at(b, i, &path, out);
            }
        }
        let (name, j) = ident_at(b, i);
        if name.is_empty() {
            out.push(path);
            return i.max(j);
        }
        path.push(name);
        i = j;
        if b[i..].starts_with(b"::") {
            i += 2;
        } else {
            // `as` renames and anything else end the path.
            out.push(path);
            while i < b.len() && !matches!(b[i], b',' | b'}' | b';' | b'(' | b')' | b'\n') {
                i += 1;
            }
            return i;
        }
    }
}

/// The modules `module` imports, by the paths in its source `text`.
fn imports(module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = code_of(text);
    let b = code.as_bytes();
    let own: Vec<String> = if module.is_empty() { vec![] } else { module.split("::").map(String::from).collect() };
    let mut found = BTreeSet::new();
    for (kw, base) in [
        ("crate::", vec![]),
        // `super` and `self` name the same modules whether a module is a
        // file or a folder; only `mod` declarations differ, and they are
        // not paths.
        ("super::", parent(&own)),
        ("self::", own.clone()),
    ] {
        let mut from = 0;
        while let Some(at) = code[from..].find(kw) {
            let start = from + at;
            from = start + kw.len();
            if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_' || b[start - 1] == b':') {
                continue;
            }
            let mut paths = Vec::new();
            paths_at(b, from, &base, &mut paths);
            for p in paths {
                if let Some(m) = (1..=p.len()).rev().map(|k| p[..k].join("::")).find(|m| modules.contains(m)) {
                    found.insert(m);
                }
            }
        }
    }
    // Not an edge: itself, its ancestors' files reached through `super`
    // only as a path prefix, and its children (`mod`, re-exports).
    found.retain(|m| m != module && !m.starts_with(&format!("{module}::")) && !module.is_empty());
    found
}

/// The parent of a file module `a::b` is `a`; `super::` from `a::b` is `a`.
fn parent(own: &[String]) -> Vec<String> {
    own[..own.len().saturating_sub(1)].to_vec()
}

fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = library_modules(src);
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(m, file)| {
            let text = std::fs::read_to_string(file).unwrap();
            (m.clone(), imports(m, &text, &names))
        })
        .collect()
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        for w in s.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn layer_of(module: &str) -> Option<(&'static str, u32)> {
    let top = module.split("::").next()?;
    LAYERS.iter().find(|(name, _, _)| *name == top).map(|&(_, layer, rank)| (layer, rank))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_import_cycles_between_files() {
    let found = cycles(&graph(&src()));
    assert!(found.is_empty(), "import cycles: {found:?}");
}

#[test]
fn layers_import_only_downward() {
    let mut wrong = Vec::new();
    for (m, deps) in graph(&src()) {
        let Some((layer, rank)) = layer_of(&m) else {
            if !m.is_empty() {
                wrong.push(format!("{m}: in no layer (add it to a layer's folder, or to LAYERS)"));
            }
            continue;
        };
        for d in deps {
            let (dl, dr) = layer_of(&d).unwrap_or(("?", u32::MAX));
            if dl != layer && dr >= rank {
                wrong.push(format!("{m} ({layer}) imports {d} ({dl})"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layer order:\n{}", wrong.join("\n"));
}

#[test]
fn files_stay_small_and_main_stays_thin() {
    let mut long = Vec::new();
    for f in rust_files(&src()) {
        let lines = std::fs::read_to_string(&f).unwrap().lines().count();
        if lines > MAX_LINES {
            long.push(format!("{}: {lines} lines", f.display()));
        }
    }
    assert!(long.is_empty(), "files over {MAX_LINES} lines:\n{}", long.join("\n"));
    let main = std::fs::read_to_string(src().join("main.rs")).unwrap().lines().count();
    assert!(main < MAX_MAIN_LINES, "main.rs has {main} lines; what it does beyond parsing belongs in cli/");
    let root = std::fs::read_dir(src())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "rs"))
        .count();
    assert!(root <= MAX_ROOT_FILES, "{root} files at the root of src/; new modules go into their layer's folder");
}

#[test]
fn every_folder_says_what_flows_through_it() {
    let mut silent = Vec::new();
    for f in rust_files(&src()) {
        if f.file_name().is_some_and(|n| n == "mod.rs") {
            let text = std::fs::read_to_string(&f).unwrap();
            if !text.trim_start().starts_with("//!") {
                silent.push(f.display().to_string());
            }
        }
    }
    assert!(silent.is_empty(), "folders without a module comment:\n{}", silent.join("\n"));
}

/// The checks above see what they claim to: on a made-up module set, a
/// cycle through a group import and a `super::` path is found, and a path
/// in a comment or a string is not an import.
#[test]
fn the_import_reader_finds_cycles_it_is_shown() {
    let modules: BTreeSet<String> = ["a", "a::x", "a::y", "b"].iter().map(|s| s.to_string()).collect();
    let x =
        "use super::{y::Thing, other};\n// crate::b is only mentioned\nlet s = \"crate::b\";\nlet r = r#\"crate::b\"#;";
    let y = "use crate::a::{self, x::{Other as O}};";
    let b = "fn f() { crate::a::x::call() }";
    let mut g = BTreeMap::new();
    g.insert("a::x".to_string(), imports("a::x", x, &modules));
    g.insert("a::y".to_string(), imports("a::y", y, &modules));
    g.insert("b".to_string(), imports("b", b, &modules));
    assert_eq!(g["a::x"], BTreeSet::from(["a".to_string(), "a::y".to_string()]));
    assert_eq!(g["a::y"], BTreeSet::from(["a".to_string(), "a::x".to_string()]));
    assert_eq!(g["b"], BTreeSet::from(["a::x".to_string()]));
    assert_eq!(cycles(&g), vec![vec!["a::x".to_string(), "a::y".to_string()]]);
}
