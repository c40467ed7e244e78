//! A bounded map that keeps the most recently inserted keys.

use std::collections::{HashMap, VecDeque};

/// The `cap` most recently inserted keys (4096 by default), with a value each: the
/// oldest insertion goes first, however often it is read.
#[derive(Debug)]
pub(crate) struct Recent<V = ()> {
    /// Key → its value and the insertion number it was last inserted with.
    keys: HashMap<String, (V, u64)>,
    order: VecDeque<(String, u64)>,
    next: u64,
    cap: usize,
}

impl<V> Default for Recent<V> {
    fn default() -> Self {
        Self::with_cap(4096)
    }
}

impl<V> Recent<V> {
    pub(crate) fn with_cap(cap: usize) -> Self {
        Self {
            keys: HashMap::new(),
            order: VecDeque::new(),
            next: 0,
            cap,
        }
    }

    pub(crate) fn insert(&mut self, key: String, value: V) {
        self.next += 1;
        self.keys.insert(key.clone(), (value, self.next));
        self.order.push_back((key, self.next));
        while self.order.len() > self.cap {
            if let Some((old, n)) = self.order.pop_front()
                && self.keys.get(&old).is_some_and(|(_, m)| *m == n)
            {
                self.keys.remove(&old);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.keys.get(key).map(|(v, _)| v)
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<V> {
        if self.keys.is_empty() {
            return None;
        }
        self.keys.remove(key).map(|(v, _)| v)
    }
}
