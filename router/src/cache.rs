//! The read cache of a SQLite source: the answers of the reads generated as cached
//! (`#[multisource::read(..., cached)]`), kept while nothing has committed to the file.
//!
//! Every answer is kept with the [`Token`] the source's watch ([`crate::sqlite::watch`]) gave
//! just before the query began: the query's snapshot is at least as new as that token. A later
//! call takes the token again; while it is the same, nothing has committed to the file since (by
//! this process's writer or by anyone else), so the kept answer is what the query would read now.
//! A different token empties the cache. A commit being written at the very moment of the look
//! (the watch cannot tell) sends the call to the file, and its answer is not kept.
//!
//! Bounded: at most [`CAPACITY`] answers per source; a full cache is emptied before the next
//! answer is kept.

use std::any::Any;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use rustc_hash::FxHashMap;

use crate::sqlite::watch::Token;

/// The most answers a source's cache keeps.
pub(crate) const CAPACITY: usize = 4096;

/// The cache of one source.
#[derive(Default)]
pub(crate) struct Cache {
    state: Mutex<State>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Default)]
struct State {
    /// The token the kept answers were read under.
    token: Option<Token>,
    answers: FxHashMap<Box<dyn Key>, Arc<dyn Any + Send + Sync>>,
}

impl Cache {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The kept answer of the call `key`, if nothing has committed since it was read: the
    /// file's watch gave `token` now (`None`: a commit was being written, the call reads the
    /// file).
    pub(crate) fn look<K, T>(&self, token: Option<Token>, key: &K) -> Option<T>
    where
        K: Hash + Eq + Send + Sync + 'static,
        T: Clone + Send + Sync + 'static,
    {
        let Some(token) = token else {
            self.misses.fetch_add(1, Relaxed);
            return None;
        };
        let mut state = self.state();
        if state.token != Some(token) {
            state.answers.clear();
            state.token = Some(token);
        } else if let Some(answer) = state.answers.get(key as &(dyn Key + 'static))
            && let Some(answer) = answer.downcast_ref::<T>()
        {
            let answer = answer.clone();
            drop(state);
            self.hits.fetch_add(1, Relaxed);
            return Some(answer);
        }
        drop(state);
        self.misses.fetch_add(1, Relaxed);
        None
    }

    /// Keeps `answer` of the call `key`, read under `token`, unless something committed since.
    pub(crate) fn keep<K, T>(&self, key: K, answer: &T, token: Token)
    where
        K: Hash + Eq + Send + Sync + 'static,
        T: Clone + Send + Sync + 'static,
    {
        let mut state = self.state();
        if state.token != Some(token) {
            return;
        }
        if state.answers.len() >= CAPACITY {
            state.answers.clear();
        }
        state.answers.insert(Box::new(key), Arc::new(answer.clone()));
    }

    /// Calls answered from the cache, and calls that read the file, since the source opened.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.hits.load(Relaxed), self.misses.load(Relaxed))
    }
}

/// A call's key, of any type: its query's name and its arguments.
trait Key: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn equals(&self, other: &dyn Key) -> bool;
    fn hash_into(&self, state: &mut dyn Hasher);
}

impl<K: Hash + Eq + Send + Sync + 'static> Key for K {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn equals(&self, other: &dyn Key) -> bool {
        other.as_any().downcast_ref::<K>() == Some(self)
    }

    fn hash_into(&self, mut state: &mut dyn Hasher) {
        std::any::TypeId::of::<K>().hash(&mut state);
        self.hash(&mut state);
    }
}

impl PartialEq for dyn Key {
    fn eq(&self, other: &dyn Key) -> bool {
        self.equals(other)
    }
}

impl Eq for dyn Key {}

impl Hash for dyn Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.hash_into(state);
    }
}
