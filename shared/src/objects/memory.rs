use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{ObjectError, ObjectInfo, ObjectStore, Tail};
use crate::time::Timestamp;

type Buckets = BTreeMap<(String, String), (Vec<u8>, Timestamp)>;

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

    fn info(key: &str, bytes: &[u8], at: Timestamp) -> ObjectInfo {
        ObjectInfo {
            key: key.to_owned(),
            size: bytes.len() as u64,
            last_modified: Some(at),
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
        Ok(self.lock().get(&self.slot(key)).map(|(bytes, _)| bytes.clone()))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError> {
        self.lock().insert(self.slot(key), (bytes, Timestamp::now()));
        Ok(())
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectError> {
        Ok(self
            .lock()
            .get(&self.slot(key))
            .map(|(bytes, at)| Self::info(key, bytes, *at)))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, ObjectError> {
        Ok(self
            .lock()
            .iter()
            .filter(|((bucket, key), _)| *bucket == self.bucket && key.starts_with(prefix))
            .map(|((_, key), (bytes, at))| Self::info(key, bytes, *at))
            .collect())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<usize, ObjectError> {
        let mut objects = self.lock();
        let before = objects.len();
        objects.retain(|(bucket, key), _| !(*bucket == self.bucket && key.starts_with(prefix)));
        Ok(before - objects.len())
    }

    async fn tail(&self, key: &str, length: u64) -> Result<Option<Tail>, ObjectError> {
        Ok(self.lock().get(&self.slot(key)).map(|(bytes, at)| {
            let start = bytes
                .len()
                .saturating_sub(usize::try_from(length).unwrap_or(usize::MAX));
            Tail {
                bytes: bytes[start..].to_vec(),
                info: Self::info(key, bytes, *at),
            }
        }))
    }

    async fn range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, ObjectError> {
        let objects = self.lock();
        let (bytes, _) = objects
            .get(&self.slot(key))
            .ok_or_else(|| ObjectError(format!("no object {key}").into()))?;
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
}
