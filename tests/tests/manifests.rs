//! The crates are ready to publish: every published crate says what it is,
//! under which licence, with keywords and no placeholder address; the
//! workspace's path dependencies carry versions (crates.io needs them);
//! the tests crate is never published; a changelog exists; the release build
//! is fail-stop.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn manifest(dir: &str) -> toml::Table {
    let text = std::fs::read_to_string(root().join(dir).join("Cargo.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

/// A package field, given or inherited from the workspace (`x.workspace = true`).
fn field(workspace: &toml::Table, package: &toml::Table, key: &str) -> Option<toml::Value> {
    let own = package.get(key)?;
    let inherited = own
        .as_table()
        .and_then(|t| t.get("workspace"))
        .and_then(toml::Value::as_bool)
        == Some(true);
    if inherited {
        workspace["workspace"]["package"].get(key).cloned()
    } else {
        Some(own.clone())
    }
}

#[test]
fn published_crates_carry_their_metadata_and_the_tests_crate_is_never_published() {
    let workspace = manifest(".");
    let ws_package = workspace["workspace"]["package"].as_table().unwrap();
    assert!(
        ws_package.get("repository").is_none(),
        "no placeholder repository until the project has a public home"
    );
    for dir in ["core", "runtime", "sim", "cli"] {
        let m = manifest(dir);
        let package = m["package"].as_table().unwrap();
        assert_ne!(
            package.get("publish").and_then(toml::Value::as_bool),
            Some(false),
            "{dir}"
        );
        for key in [
            "description",
            "license",
            "keywords",
            "categories",
            "readme",
            "rust-version",
        ] {
            assert!(
                field(&workspace, package, key).is_some(),
                "{dir} has no {key}"
            );
        }
        let description = field(&workspace, package, "description").unwrap();
        assert!(
            description.as_str().unwrap().len() > 20,
            "{dir}: {description}"
        );
        let keywords = field(&workspace, package, "keywords").unwrap();
        assert!(
            keywords.as_array().unwrap().len() <= 5,
            "crates.io takes 5 keywords"
        );
    }
    let tests = manifest("tests");
    assert_eq!(tests["package"]["publish"].as_bool(), Some(false));
    let deps = workspace["workspace"]["dependencies"].as_table().unwrap();
    for (name, dep) in deps.iter().filter(|(n, _)| n.starts_with("ringleader")) {
        let dep = dep.as_table().unwrap();
        assert!(
            dep.contains_key("path") && dep.contains_key("version"),
            "{name} needs a version"
        );
    }
    let changelog = std::fs::read_to_string(root().join("CHANGELOG.md")).unwrap();
    assert!(
        changelog.contains("## Unreleased"),
        "a changelog with its next release"
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains("## Versioning and stability"),
        "a written semver policy"
    );
}

/// A released node is fail-stop (README, "A panic stops the node"): the
/// release profile aborts on a panic rather than unwind past a task and leave
/// the node running without it.
#[test]
fn the_release_build_stops_on_a_panic() {
    let workspace = manifest(".");
    let release = workspace
        .get("profile")
        .and_then(|p| p.get("release"))
        .and_then(toml::Value::as_table)
        .expect("a [profile.release] in the workspace manifest");
    assert_eq!(
        release.get("panic").and_then(toml::Value::as_str),
        Some("abort"),
        "[profile.release] must set panic = \"abort\""
    );
}
