//! The key-value store's state machine: `PUT key=value` entries applied in
//! log order. Each key remembers the index of the write it holds, so a read
//! can be checked against the writes acknowledged before it.

use ringleader_core::app::StateMachine;
use ringleader_core::log::Entry;
use ringleader_sim::app::{Proposing, SimApp};
use std::collections::BTreeMap;

/// Longest key, in bytes.
pub const KEY_MAX: usize = 256;

/// The store: key -> (value, index of the write).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kv {
    map: BTreeMap<String, (String, u64)>,
}

/// The entry that writes `value` under `key`, or why it cannot be one.
pub fn put(key: &str, value: &str) -> Result<Vec<u8>, String> {
    if key.is_empty() || key.len() > KEY_MAX || key.contains(['=', '\n']) {
        return Err(format!(
            "a key is 1 to {KEY_MAX} bytes without '=' or a line break"
        ));
    }
    if value.contains('\n') {
        return Err("a value is one line".into());
    }
    Ok(format!("PUT {key}={value}").into_bytes())
}

/// What a `PUT` entry writes, if it is one.
pub fn parse_put(payload: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(payload).ok()?;
    text.strip_prefix("PUT ")?.split_once('=')
}

impl Kv {
    /// The value of `key` and the index of the write that put it there.
    pub fn get(&self, key: &str) -> Option<(&str, u64)> {
        self.map.get(key).map(|(v, i)| (v.as_str(), *i))
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl StateMachine for Kv {
    fn apply(&mut self, entry: &Entry) {
        // Markers and other writers' entries are not ours.
        if let Some((k, v)) = parse_put(&entry.payload) {
            self.map.insert(k.to_owned(), (v.to_owned(), entry.index));
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        // One line per key: index, key, value (keys hold no '=', values no
        // line break).
        let mut out = String::new();
        for (k, (v, i)) in &self.map {
            out.push_str(&format!("{i} {k}={v}\n"));
        }
        out.into_bytes()
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), String> {
        let text = std::str::from_utf8(snapshot).map_err(|e| e.to_string())?;
        let mut map = BTreeMap::new();
        for line in text.lines() {
            let (index, rest) = line.split_once(' ').ok_or("a line without an index")?;
            let index: u64 = index.parse().map_err(|_| "a bad index")?;
            let (k, v) = rest.split_once('=').ok_or("a line without '='")?;
            map.insert(k.to_owned(), (v.to_owned(), index));
        }
        self.map = map;
        Ok(())
    }
}

impl SimApp for Kv {
    /// Writes to a few keys, so reads have something to be wrong about.
    fn proposal(&self, turn: &Proposing) -> Option<Vec<u8>> {
        let n = turn.n;
        put(&format!("k{}", n % 8), &format!("v{n}")).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_entry as entry;

    #[test]
    fn puts_apply_and_the_store_survives_its_snapshot() {
        let mut kv = Kv::default();
        kv.apply(&entry(1, &put("a", "one").unwrap()));
        kv.apply(&entry(2, b"not ours"));
        kv.apply(&entry(3, &put("b", "x=y z").unwrap()));
        kv.apply(&entry(4, &put("a", "two").unwrap()));
        assert_eq!(kv.get("a"), Some(("two", 4)));
        assert_eq!(kv.get("b"), Some(("x=y z", 3)));
        let mut back = Kv::default();
        back.restore(&kv.snapshot()).unwrap();
        assert_eq!(back, kv);
        assert!(back.restore(b"garbage").is_err());
        assert!(put("a=b", "c").is_err());
        assert!(put("", "c").is_err());
        assert!(put("k", "two\nlines").is_err());
    }
}
