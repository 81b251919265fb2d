//! The layout the README promises: no import cycles between the modules of
//! any crate, and no source file over 500 lines. Read from the sources, so
//! a change that breaks either fails here, not in review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 500;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "target" || n == "corpus")
            {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A crate's modules by path (`engine::memo`; the root is ""), and their files.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("lib" | "main" | "mod")
            ) {
                parts.pop();
            }
            (parts.join("::"), file)
        })
        .collect()
}

/// The code of a file without comments and test modules.
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a file names after `crate::` or `super::`, braces expanded
/// one level (`crate::wire::{edns, query}`).
fn named_paths(code: &str) -> Vec<(bool, Vec<String>)> {
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    for (start, _) in code.match_indices("::") {
        let before = &code[..start];
        let word_start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let word = &before[word_start..];
        let from_crate = match word {
            "crate" => true,
            "super" => false,
            _ => continue,
        };
        if word_start >= 2 && &code[word_start - 2..word_start] == "::" {
            continue; // `super::super::` or `x::crate`: not a start
        }
        let mut at = start;
        let mut segments = Vec::new();
        let mut groups = Vec::new();
        while code[at..].starts_with("::") {
            at += 2;
            if bytes.get(at) == Some(&b'{') {
                let end = code[at..].find('}').map_or(code.len(), |i| at + i);
                groups = code[at + 1..end]
                    .split(',')
                    .map(|item| {
                        item.trim()
                            .split("::")
                            .next()
                            .unwrap_or("")
                            .trim()
                            .to_owned()
                    })
                    .filter(|item| !item.is_empty() && item != "self")
                    .collect();
                break;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(code.len(), |i| at + i);
            if end == at {
                break;
            }
            segments.push(code[at..end].to_owned());
            at = end;
        }
        if groups.is_empty() {
            paths.push((from_crate, segments));
        } else {
            for group in groups {
                let mut path = segments.clone();
                path.push(group);
                paths.push((from_crate, path));
            }
        }
    }
    paths
}

/// The module graph of one crate: which modules each module imports.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(src);
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let here: Vec<String> = if module.is_empty() {
            Vec::new()
        } else {
            module.split("::").map(str::to_owned).collect()
        };
        let mut targets = BTreeSet::new();
        for (from_crate, path) in named_paths(&code(file)) {
            let mut full = if from_crate {
                Vec::new()
            } else {
                here[..here.len().saturating_sub(1)].to_vec()
            };
            full.extend(path);
            for len in (0..=full.len()).rev() {
                let candidate = full[..len].join("::");
                if modules.contains_key(&candidate) {
                    if candidate != *module {
                        targets.insert(candidate);
                    }
                    break;
                }
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

/// A cycle in `graph`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next) {
                Some(1) => {
                    let from = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(cycle) = visit(next, graph, state, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node)
            && let Some(cycle) = visit(node, graph, &mut state, &mut Vec::new())
        {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn no_crate_has_an_import_cycle() {
    for krate in ["mapping", "server", "cli"] {
        let src = workspace().join("crates").join(krate).join("src");
        let graph = imports(&src);
        assert!(graph.len() > 3, "{krate}: modules found");
        if let Some(cycle) = find_cycle(&graph) {
            panic!("crates/{krate}: import cycle {}", cycle.join(" → "));
        }
    }
    // The checker sees a cycle when there is one.
    let mut cyclic = BTreeMap::new();
    cyclic.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    cyclic.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert!(find_cycle(&cyclic).is_some());
    let paths = named_paths("use crate::wire::{edns::X, query};\nuse super::memo::Key;");
    assert_eq!(paths.len(), 3, "{paths:?}");
}

#[test]
fn no_source_file_is_over_500_lines() {
    let mut files = Vec::new();
    for dir in ["crates", "tests", "fuzz/fuzz_targets"] {
        rust_files(&workspace().join(dir), &mut files);
    }
    assert!(files.len() > 50);
    let long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).ok()?.lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these files: {long:?}");
}
