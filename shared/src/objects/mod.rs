//! Objects in a bucket: the one object-store port every part uses — the market-data catalog (ranged reads of
//! footers), the workflow steps (configs, results, temporary files) and the strategy container (its inputs and
//! results). The S3 adapter sits beside it, and an in-memory store for fast tests of the logic above it.

mod memory;
mod s3;

use std::future::Future;
use std::ops::Range;

pub use memory::MemoryObjects;
pub use s3::S3Objects;

use crate::time::Timestamp;

/// What a store says about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<Timestamp>,
    /// The current version in a versioned bucket (`head` answers it; a listing does not).
    pub version_id: Option<String>,
}

/// The last bytes of an object, and the object's size and age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    pub bytes: Vec<u8>,
    pub info: ObjectInfo,
}

/// One version of an object, by content: what a run's manifest pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedObject {
    /// The version in a versioned bucket (none where the bucket keeps no versions).
    pub version_id: Option<String>,
    /// `sha256:` and the hex SHA-256 of the bytes.
    pub sha256: String,
    pub size: u64,
}

/// The objects of one bucket. A missing object is an answer (`None`), not an error.
pub trait ObjectStore: Send + Sync + Sized {
    /// The bucket this store reads and writes.
    fn bucket(&self) -> &str;

    /// The same store (the same client and credentials) on another bucket.
    fn in_bucket(&self, bucket: &str) -> Self;

    /// The whole object `key`.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, ObjectError>> + Send;

    /// Version `version_id` of object `key` (the current one for `None`, as in a bucket without versions); `None`
    /// when there is no such version.
    fn get_version(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, ObjectError>> + Send;

    /// Version `version_id` of object `key` (the current one for `None`) and the SHA-256 of its bytes, read as a
    /// stream (an object need not fit in memory); `None` when there is no such version.
    fn hash(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> impl Future<Output = Result<Option<HashedObject>, ObjectError>> + Send;

    /// Writes `bytes` at `key`, replacing what was there.
    fn put(&self, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<(), ObjectError>> + Send;

    /// What there is at `key`, without its bytes.
    fn head(&self, key: &str) -> impl Future<Output = Result<Option<ObjectInfo>, ObjectError>> + Send;

    /// Every object under `prefix`, by key.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<ObjectInfo>, ObjectError>> + Send;

    /// Deletes the objects `keys` (their current versions: in a versioned bucket, older versions stay readable by
    /// their ids); a key with no object is no error.
    fn delete(&self, keys: &[String]) -> impl Future<Output = Result<(), ObjectError>> + Send;

    /// Deletes every object under `prefix`; answers how many there were.
    fn delete_prefix(&self, prefix: &str) -> impl Future<Output = Result<usize, ObjectError>> + Send {
        async move {
            let keys: Vec<String> = self.list(prefix).await?.into_iter().map(|object| object.key).collect();
            self.delete(&keys).await?;
            Ok(keys.len())
        }
    }

    /// The last `length` bytes of object `key` (all of it when shorter).
    fn tail(&self, key: &str, length: u64) -> impl Future<Output = Result<Option<Tail>, ObjectError>> + Send;

    /// Bytes `range` of object `key`.
    fn range(&self, key: &str, range: Range<u64>) -> impl Future<Output = Result<Vec<u8>, ObjectError>> + Send;
}

/// Links to objects that need no credentials, for a client outside the stack's account and network.
pub trait DownloadSigner: Send + Sync {
    /// A GET of `key` that works for `expires` without credentials.
    fn presign_get(
        &self,
        key: &str,
        expires: std::time::Duration,
    ) -> impl Future<Output = Result<String, ObjectError>> + Send;
}

/// The object store did not answer.
#[derive(Debug, thiserror::Error)]
#[error("the object store could not be read")]
pub struct ObjectError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl ObjectError {
    pub(crate) fn new<E: std::error::Error + Send + Sync + 'static>(error: E) -> Self {
        ObjectError(Box::new(error))
    }
}

/// `s3://bucket/key` → (`bucket`, `key`); `None` for anything else.
pub fn s3_object(uri: &str) -> Option<(&str, &str)> {
    uri.strip_prefix("s3://")?
        .split_once('/')
        .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_uris_name_a_bucket_and_a_key() {
        assert_eq!(s3_object("s3://configs/temp/x.yaml"), Some(("configs", "temp/x.yaml")));
        assert_eq!(s3_object("s3://configs"), None);
        assert_eq!(s3_object("s3:///key"), None);
        assert_eq!(s3_object("/local/config.json"), None);
    }
}
