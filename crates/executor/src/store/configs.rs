//! Stored configurations with versions (for `If-Match`) and unique names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::{BoxFuture, StoreError};
use crate::model::config::ConfigInput;

/// A stored configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredConfig {
    /// Its id (a UUIDv7).
    pub id: String,
    /// Bumped by every `PUT`.
    pub version: u64,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it was last replaced.
    pub updated_at: SystemTime,
    /// The settings (validated, secrets in clear: never serialize this for storage
    /// outside the process without its own format).
    pub input: ConfigInput,
}

impl StoredConfig {
    /// Its unique name.
    pub fn name(&self) -> &str {
        self.input.name.as_deref().unwrap_or_default()
    }

    /// The next version of this config with `input`, if `if_match` (when given) names
    /// this version.
    pub fn replaced_by(
        &self,
        input: ConfigInput,
        if_match: Option<u64>,
    ) -> Result<StoredConfig, ConfigStoreError> {
        if let Some(expected) = if_match
            && expected != self.version
        {
            return Err(ConfigStoreError::VersionMismatch {
                expected,
                current: self.version,
            });
        }
        Ok(StoredConfig {
            id: self.id.clone(),
            version: self.version + 1,
            created_at: self.created_at,
            updated_at: SystemTime::now(),
            input,
        })
    }
}

/// Why a config store refused a change.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigStoreError {
    /// Another config has that name.
    #[error("a configuration named `{0}` already exists")]
    DuplicateName(String),
    /// No config with that id or name.
    #[error("no configuration `{0}`")]
    NotFound(String),
    /// `If-Match` named an older version.
    #[error("version {expected} does not match the current version {current}")]
    VersionMismatch {
        /// The version the client had.
        expected: u64,
        /// The current version.
        current: u64,
    },
    /// The store is out of reach.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
}

/// Configurations by id or name.
pub trait ConfigStore: Send + Sync + std::fmt::Debug {
    /// Stores a new config (its `id`, `version` 1 and times already set).
    fn create(
        &self,
        config: StoredConfig,
    ) -> BoxFuture<'_, Result<Arc<StoredConfig>, ConfigStoreError>>;
    /// The config with this id or name.
    fn get(&self, id_or_name: &str)
    -> BoxFuture<'_, Result<Option<Arc<StoredConfig>>, StoreError>>;
    /// Every config, by name.
    fn list(&self) -> BoxFuture<'_, Result<Vec<Arc<StoredConfig>>, StoreError>>;
    /// Replaces the config's settings, checking `if_match` against its version.
    fn replace(
        &self,
        id_or_name: &str,
        input: ConfigInput,
        if_match: Option<u64>,
    ) -> BoxFuture<'_, Result<Arc<StoredConfig>, ConfigStoreError>>;
    /// Deletes the config.
    fn delete(&self, id_or_name: &str) -> BoxFuture<'_, Result<(), ConfigStoreError>>;
}

/// The in-memory config store.
#[derive(Debug, Default)]
pub struct MemoryConfigStore {
    inner: Mutex<Configs>,
}

#[derive(Debug, Default)]
struct Configs {
    by_id: HashMap<String, Arc<StoredConfig>>,
    id_by_name: HashMap<String, String>,
}

impl Configs {
    fn find(&self, id_or_name: &str) -> Option<&Arc<StoredConfig>> {
        self.by_id.get(id_or_name).or_else(|| {
            self.id_by_name
                .get(id_or_name)
                .and_then(|id| self.by_id.get(id))
        })
    }
}

impl MemoryConfigStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Configs> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ConfigStore for MemoryConfigStore {
    fn create(
        &self,
        config: StoredConfig,
    ) -> BoxFuture<'_, Result<Arc<StoredConfig>, ConfigStoreError>> {
        let mut configs = self.lock();
        let name = config.name().to_owned();
        let result = match configs.id_by_name.entry(name) {
            std::collections::hash_map::Entry::Occupied(taken) => {
                Err(ConfigStoreError::DuplicateName(taken.key().clone()))
            }
            std::collections::hash_map::Entry::Vacant(free) => {
                let stored = Arc::new(config);
                free.insert(stored.id.clone());
                configs.by_id.insert(stored.id.clone(), Arc::clone(&stored));
                Ok(stored)
            }
        };
        Box::pin(async move { result })
    }

    fn get(
        &self,
        id_or_name: &str,
    ) -> BoxFuture<'_, Result<Option<Arc<StoredConfig>>, StoreError>> {
        let found = self.lock().find(id_or_name).cloned();
        Box::pin(async move { Ok(found) })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<Arc<StoredConfig>>, StoreError>> {
        let mut all: Vec<_> = self.lock().by_id.values().cloned().collect();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        Box::pin(async move { Ok(all) })
    }

    fn replace(
        &self,
        id_or_name: &str,
        input: ConfigInput,
        if_match: Option<u64>,
    ) -> BoxFuture<'_, Result<Arc<StoredConfig>, ConfigStoreError>> {
        let mut configs = self.lock();
        let result = (|| {
            let current = configs
                .find(id_or_name)
                .cloned()
                .ok_or_else(|| ConfigStoreError::NotFound(id_or_name.to_owned()))?;
            let replaced = Arc::new(current.replaced_by(input, if_match)?);
            let new_name = replaced.name().to_owned();
            if new_name != current.name() {
                if configs.id_by_name.contains_key(&new_name) {
                    return Err(ConfigStoreError::DuplicateName(new_name));
                }
                configs.id_by_name.remove(current.name());
                configs.id_by_name.insert(new_name, current.id.clone());
            }
            configs
                .by_id
                .insert(current.id.clone(), Arc::clone(&replaced));
            Ok(replaced)
        })();
        Box::pin(async move { result })
    }

    fn delete(&self, id_or_name: &str) -> BoxFuture<'_, Result<(), ConfigStoreError>> {
        let mut configs = self.lock();
        let result = match configs.find(id_or_name).cloned() {
            Some(found) => {
                configs.id_by_name.remove(found.name());
                configs.by_id.remove(&found.id);
                Ok(())
            }
            None => Err(ConfigStoreError::NotFound(id_or_name.to_owned())),
        };
        Box::pin(async move { result })
    }
}
