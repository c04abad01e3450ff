use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{HashedObject, ObjectError, ObjectInfo, ObjectStore, Tail};
use crate::time::Timestamp;

/// The objects of an account: each object's current version by (bucket, key), and every version ever written, as
/// a versioned bucket keeps them.
#[derive(Debug, Default)]
struct Buckets {
    current: BTreeMap<(String, String), Stored>,
    versions: BTreeMap<(String, String, String), Vec<u8>>,
    written: u64,
}

#[derive(Debug)]
struct Stored {
    bytes: Vec<u8>,
    at: Timestamp,
    version_id: String,
}

/// Buckets in memory with the S3 adapter's promises, for fast tests of the logic above the port. Stores made
/// with [`ObjectStore::in_bucket`] share their objects, as buckets of one account do.
#[derive(Debug, Clone, Default)]
pub struct MemoryObjects {
    bucket: String,
    objects: Arc<Mutex<Buckets>>,
}

impl MemoryObjects {
    /// An empty account, and a store on its bucket `bucket`.
    pub fn new(bucket: &str) -> Self {
        Self {
            bucket: bucket.to_owned(),
            objects: Arc::default(),
        }
    }

    /// Every key of this bucket.
    pub fn keys(&self) -> Vec<String> {
        self.lock()
            .current
            .keys()
            .filter(|(bucket, _)| *bucket == self.bucket)
            .map(|(_, key)| key.clone())
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Buckets> {
        // Every write is one insert or remove: a panic elsewhere cannot leave half an object.
        self.objects.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn slot(&self, key: &str) -> (String, String) {
        (self.bucket.clone(), key.to_owned())
    }

    fn info(key: &str, stored: &Stored) -> ObjectInfo {
        ObjectInfo {
            version_id: Some(stored.version_id.clone()),
            key: key.to_owned(),
            size: stored.bytes.len() as u64,
            last_modified: Some(stored.at),
        }
    }
}

impl ObjectStore for MemoryObjects {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    fn in_bucket(&self, bucket: &str) -> Self {
        Self {
            bucket: bucket.to_owned(),
            objects: self.objects.clone(),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        Ok(self
            .lock()
            .current
            .get(&self.slot(key))
            .map(|stored| stored.bytes.clone()))
    }

    async fn get_version(&self, key: &str, version_id: Option<&str>) -> Result<Option<Vec<u8>>, ObjectError> {
        let Some(version_id) = version_id else {
            return self.get(key).await;
        };
        let slot = (self.bucket.clone(), key.to_owned(), version_id.to_owned());
        Ok(self.lock().versions.get(&slot).cloned())
    }

    async fn hash(&self, key: &str, version_id: Option<&str>) -> Result<Option<HashedObject>, ObjectError> {
        let objects = self.lock();
        let found = match version_id {
            None => objects
                .current
                .get(&self.slot(key))
                .map(|stored| (stored.version_id.clone(), &stored.bytes)),
            Some(version_id) => {
                let slot = (self.bucket.clone(), key.to_owned(), version_id.to_owned());
                objects.versions.get(&slot).map(|bytes| (version_id.to_owned(), bytes))
            }
        };
        Ok(found.map(|(version_id, bytes)| HashedObject {
            version_id: Some(version_id),
            sha256: crate::run_manifest::sha256_of(bytes),
            size: bytes.len() as u64,
        }))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError> {
        let mut objects = self.lock();
        objects.written += 1;
        let version_id = format!("v{}", objects.written);
        objects
            .versions
            .insert((self.bucket.clone(), key.to_owned(), version_id.clone()), bytes.clone());
        let stored = Stored {
            bytes,
            at: Timestamp::now(),
            version_id,
        };
        objects.current.insert(self.slot(key), stored);
        Ok(())
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectError> {
        Ok(self
            .lock()
            .current
            .get(&self.slot(key))
            .map(|stored| Self::info(key, stored)))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, ObjectError> {
        Ok(self
            .lock()
            .current
            .iter()
            .filter(|((bucket, key), _)| *bucket == self.bucket && key.starts_with(prefix))
            .map(|((_, key), stored)| Self::info(key, stored))
            .collect())
    }

    /// Deletes the current versions; older versions stay readable, as in a versioned bucket.
    async fn delete(&self, keys: &[String]) -> Result<(), ObjectError> {
        let mut objects = self.lock();
        for key in keys {
            objects.current.remove(&self.slot(key));
        }
        Ok(())
    }

    async fn tail(&self, key: &str, length: u64) -> Result<Option<Tail>, ObjectError> {
        Ok(self.lock().current.get(&self.slot(key)).map(|stored| {
            let start = stored
                .bytes
                .len()
                .saturating_sub(usize::try_from(length).unwrap_or(usize::MAX));
            Tail {
                bytes: stored.bytes[start..].to_vec(),
                info: Self::info(key, stored),
            }
        }))
    }

    async fn range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, ObjectError> {
        let objects = self.lock();
        let bytes = &objects
            .current
            .get(&self.slot(key))
            .ok_or_else(|| ObjectError(format!("no object {key}").into()))?
            .bytes;
        let end = usize::try_from(range.end).unwrap_or(usize::MAX).min(bytes.len());
        let start = usize::try_from(range.start).unwrap_or(usize::MAX).min(end);
        Ok(bytes[start..end].to_vec())
    }
}

impl super::DownloadSigner for MemoryObjects {
    async fn presign_get(&self, key: &str, _expires: std::time::Duration) -> Result<String, ObjectError> {
        Ok(format!("memory://{}/{key}", self.bucket))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn buckets_of_one_account_share_objects_but_not_keys() {
        let configs = MemoryObjects::new("configs");
        let results = configs.in_bucket("results");
        configs.put("temp/a/config.yaml", b"{}".to_vec()).await.expect("put");
        results.put("temp/a/other", b"12345".to_vec()).await.expect("put");
        assert_eq!(configs.keys(), ["temp/a/config.yaml"]);
        assert_eq!(
            results
                .in_bucket("configs")
                .get("temp/a/config.yaml")
                .await
                .expect("get"),
            Some(b"{}".to_vec())
        );
        assert_eq!(
            results.head("temp/a/other").await.expect("head").map(|info| info.size),
            Some(5)
        );
        let tail = results.tail("temp/a/other", 2).await.expect("tail").expect("there");
        assert_eq!((tail.bytes, tail.info.size), (b"45".to_vec(), 5));
        assert_eq!(results.range("temp/a/other", 1..3).await.expect("range"), b"23");
        assert_eq!(configs.delete_prefix("temp/a/").await.expect("deleted"), 1);
        assert_eq!(configs.delete_prefix("temp/a/").await.expect("deleted"), 0);
        assert_eq!(results.keys(), ["temp/a/other"]);
    }

    #[tokio::test]
    async fn every_version_written_stays_readable_by_its_id() {
        let data = MemoryObjects::new("data");
        data.put("BTC.parquet", b"first".to_vec()).await.expect("put");
        let first = data.hash("BTC.parquet", None).await.expect("hash").expect("there");
        data.put("BTC.parquet", b"second".to_vec()).await.expect("put");
        let second = data.hash("BTC.parquet", None).await.expect("hash").expect("there");
        assert_ne!(first.version_id, second.version_id);
        assert_eq!(first.sha256, crate::run_manifest::sha256_of(b"first"));
        assert_eq!(
            (second.sha256.clone(), second.size),
            (crate::run_manifest::sha256_of(b"second"), 6)
        );
        let read = |version: Option<String>| {
            let data = data.clone();
            async move { data.get_version("BTC.parquet", version.as_deref()).await.expect("get") }
        };
        let hashed = data
            .hash("BTC.parquet", first.version_id.as_deref())
            .await
            .expect("hash");
        assert_eq!(hashed.as_ref(), Some(&first), "an older version is hashed by its id");
        assert_eq!(data.hash("BTC.parquet", Some("v999")).await.expect("hash"), None);
        assert_eq!(read(first.version_id).await, Some(b"first".to_vec()));
        assert_eq!(read(None).await, Some(b"second".to_vec()));
        assert_eq!(read(Some("v999".into())).await, None);
        assert_eq!(data.hash("ETH.parquet", None).await.expect("hash"), None);
    }
}
