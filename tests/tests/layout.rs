//! The shape of the code, checked: no module of `core/` or `sim/` imports one that
//! imports it back (a `mod.rs` may use its children, a child never its parent),
//! the crates depend on each other one way, and the core holds nothing that
//! would make it nondeterministic.
//!
//! The module graph is read from the source: every path through `crate::`,
//! `super::`, `self::` or a child module declared in the file is an edge to the
//! file that defines the longest prefix of that path. Test modules are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Every `.rs` file under `dir`, by path relative to it.
fn sources(dir: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(base).unwrap_or(&path);
                let rel = rel.to_string_lossy().replace('\\', "/");
                if let Ok(text) = std::fs::read_to_string(&path) {
                    out.insert(rel, text);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The module path of a file: `election/mod.rs` is `[election]`, `lib.rs` is `[]`.
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

fn is_test_file(file: &str) -> bool {
    file.ends_with("tests.rs") || file.ends_with("test_net.rs") || file.contains("/tests/")
}

/// The source without comments and without items marked `#[cfg(test)]`.
fn production_code(src: &str) -> String {
    let mut out = String::new();
    let mut rest = src;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + "#[cfg(test)]".len()..).unwrap_or_default();
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = after.get(end..).unwrap_or_default();
    }
    out.push_str(rest);
    out.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The child modules a file declares (`mod x;`, `pub mod x;`, `pub(crate) mod x;`).
fn children(src: &str) -> BTreeSet<String> {
    src.lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l
                .strip_prefix("pub(crate) ")
                .or_else(|| l.strip_prefix("pub "))
                .unwrap_or(l);
            let name = l.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.trim().to_owned())
        })
        .collect()
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path the code names that starts at `crate`, `super`, `self` or a child.
fn paths(src: &str, kids: &BTreeSet<String>) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':');
        if !starts_word || !is_ident(chars[i]) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && is_ident(chars[j]) {
            j += 1;
        }
        let head: String = chars[i..j].iter().collect();
        let mut segments = Vec::new();
        let mut k = j;
        if head == "crate" || head == "super" || head == "self" || kids.contains(&head) {
            // Follow `::ident` segments; a `{` group adds one path per item.
            while k + 1 < chars.len() && chars[k] == ':' && chars[k + 1] == ':' {
                k += 2;
                if chars.get(k) == Some(&'{') {
                    let close = (k..chars.len())
                        .find(|&x| chars[x] == '}')
                        .unwrap_or(chars.len());
                    let group: String = chars[k + 1..close].iter().collect();
                    for item in group.split(',') {
                        let item: Vec<String> = item
                            .trim()
                            .split(' ')
                            .next()
                            .unwrap_or_default()
                            .split("::")
                            .filter(|s| !s.is_empty() && *s != "self")
                            .map(str::to_owned)
                            .collect();
                        let mut path = segments.clone();
                        path.extend(item);
                        found.push((head.clone(), path));
                    }
                    k = close;
                    segments.clear();
                    break;
                }
                let mut e = k;
                while e < chars.len() && is_ident(chars[e]) {
                    e += 1;
                }
                segments.push(chars[k..e].iter().collect());
                k = e;
            }
            if !segments.is_empty() {
                found.push((head, segments));
            }
        }
        i = k.max(j);
    }
    found
}

/// The file-level import graph of one crate's `src/`.
fn graph(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = sources(dir);
    let modules: BTreeMap<Vec<String>, String> =
        files.keys().map(|f| (module_of(f), f.clone())).collect();
    let resolve = |path: &[String]| -> Option<String> {
        (0..=path.len())
            .rev()
            .find_map(|n| modules.get(path.get(..n)?).cloned())
    };
    let mut edges = BTreeMap::new();
    for (file, src) in &files {
        if is_test_file(file) || file == "lib.rs" || file == "main.rs" {
            continue;
        }
        let code = production_code(src);
        let kids = children(&code);
        let me = module_of(file);
        let parent: Vec<String> = me
            .get(..me.len().saturating_sub(1))
            .unwrap_or_default()
            .to_vec();
        let mut deps = BTreeSet::new();
        for (head, rest) in paths(&code, &kids) {
            let mut full = match head.as_str() {
                "crate" => Vec::new(),
                "super" => parent.clone(),
                "self" => me.clone(),
                child => {
                    let mut p = me.clone();
                    p.push(child.to_owned());
                    p
                }
            };
            full.extend(rest);
            if let Some(target) = resolve(&full) {
                if target != *file && !is_test_file(&target) {
                    deps.insert(target);
                }
            }
        }
        edges.insert(file.clone(), deps);
    }
    edges
}

/// A cycle of the graph, if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_owned(), Mark::Open);
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if !edges.contains_key(next) {
                continue;
            }
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle = stack.get(from..).unwrap_or_default().to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(next, edges, marks, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in edges.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New {
            if let Some(c) = visit(node, edges, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_module_of_core_or_sim_imports_one_that_imports_it_back() {
    for krate in ["core", "sim"] {
        let edges = graph(&root().join(krate).join("src"));
        assert!(edges.len() > 10, "{krate}: too few modules read");
        if let Some(cycle) = find_cycle(&edges) {
            panic!("{krate}/src has an import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut edges = BTreeMap::new();
    edges.insert("a.rs".to_owned(), BTreeSet::from(["b.rs".to_owned()]));
    edges.insert("b.rs".to_owned(), BTreeSet::from(["c.rs".to_owned()]));
    edges.insert("c.rs".to_owned(), BTreeSet::from(["a.rs".to_owned()]));
    assert_eq!(
        find_cycle(&edges).map(|c| c.join(" -> ")),
        Some("a.rs -> b.rs -> c.rs -> a.rs".to_owned())
    );
    edges.insert("c.rs".to_owned(), BTreeSet::new());
    assert_eq!(find_cycle(&edges), None);
}

#[test]
fn paths_are_read_from_uses_and_expressions() {
    let kids = BTreeSet::from(["bully".to_owned()]);
    let src = "use super::algorithm::{AlgoCtx, ElectionAlgorithm};\n\
               use crate::wire::ElectionMsg;\n\
               let b = bully::Bully::new(c);\n\
               let x = other::thing();";
    let found = paths(src, &kids);
    assert!(found.contains(&("super".into(), vec!["algorithm".into(), "AlgoCtx".into()])));
    assert!(found.contains(&("crate".into(), vec!["wire".into(), "ElectionMsg".into()])));
    assert!(found.contains(&("bully".into(), vec!["Bully".into(), "new".into()])));
    assert!(!found.iter().any(|(h, _)| h == "other"));
}

/// The `[dependencies]` section of a crate's manifest.
fn dependencies(krate: &str) -> String {
    let manifest = std::fs::read_to_string(root().join(krate).join("Cargo.toml"))
        .unwrap_or_else(|e| panic!("cannot read {krate}/Cargo.toml: {e}"));
    let start = manifest.find("[dependencies]").unwrap_or(manifest.len());
    let rest = manifest.get(start + 1..).unwrap_or_default();
    let end = rest.find("\n[").map_or(rest.len(), |e| e + 1);
    rest.get(..end).unwrap_or_default().to_owned()
}

#[test]
fn the_crates_depend_on_each_other_one_way() {
    let core = dependencies("core");
    for banned in ["ringleader-", "tokio", "socket2"] {
        assert!(!core.contains(banned), "core depends on {banned}");
    }
    let sim = dependencies("sim");
    for banned in ["ringleader-runtime", "tokio", "socket2"] {
        assert!(!sim.contains(banned), "sim depends on {banned}");
    }
    assert!(
        !dependencies("runtime").contains("ringleader-sim"),
        "runtime depends on sim"
    );
}

#[test]
fn the_core_holds_nothing_that_would_make_it_nondeterministic() {
    let banned = [
        "HashMap",
        "HashSet",
        "Instant::now",
        "SystemTime",
        "thread_rng",
        "rand::rng()",
        "std::thread",
        "OsRng",
    ];
    for (file, src) in sources(&root().join("core/src")) {
        let code = production_code(&src);
        for word in banned {
            assert!(!code.contains(word), "core/src/{file} uses {word}");
        }
    }
}
