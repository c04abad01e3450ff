use std::ops::Range;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use sha2::{Digest, Sha256};

use super::{HashedObject, ObjectError, ObjectInfo, ObjectStore, Tail};
use crate::time::Timestamp;

/// The objects of one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
    bucket: String,
}

impl S3Objects {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// Whether the bucket exists and may be read.
    pub async fn head_bucket(&self) -> Result<(), ObjectError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|error| ObjectError::new(error.into_service_error()))?;
        Ok(())
    }

    /// Version `version_id` of object `key` (the current one for `None`), its body not read yet; `None` when the
    /// object or that version is not there.
    async fn open(&self, key: &str, version_id: Option<&str>) -> Result<Option<GetObjectOutput>, ObjectError> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned));
        match request.send().await {
            Ok(output) => Ok(Some(output)),
            Err(error) => {
                let error = error.into_service_error();
                // A version id that is not (or no longer) there: S3 answers NoSuchVersion, or 400 for a malformed one.
                let no_version =
                    version_id.is_some() && matches!(error.code(), Some("NoSuchVersion" | "InvalidArgument"));
                if error.is_no_such_key() || no_version {
                    Ok(None)
                } else {
                    Err(ObjectError::new(error))
                }
            }
        }
    }
}

fn timestamp(time: Option<&DateTime>) -> Option<Timestamp> {
    let time = time?;
    chrono::DateTime::from_timestamp(time.secs(), time.subsec_nanos()).map(Timestamp::from)
}

/// An object's version as S3 answers it: none in a bucket without versioning, which names every version "null".
fn version_of(answered: Option<&str>) -> Option<String> {
    answered.filter(|id| *id != "null").map(str::to_owned)
}

/// The object's full size from a ranged answer's `Content-Range: bytes a-b/size`.
fn total_size(content_range: Option<&str>, fallback: u64) -> u64 {
    content_range
        .and_then(|range| range.rsplit_once('/'))
        .and_then(|(_, size)| size.parse().ok())
        .unwrap_or(fallback)
}

impl ObjectStore for S3Objects {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    fn in_bucket(&self, bucket: &str) -> Self {
        Self::new(self.client.clone(), bucket)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        self.get_version(key, None).await
    }

    async fn get_version(&self, key: &str, version_id: Option<&str>) -> Result<Option<Vec<u8>>, ObjectError> {
        let Some(output) = self.open(key, version_id).await? else {
            return Ok(None);
        };
        let bytes = output.body.collect().await.map_err(ObjectError::new)?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    async fn hash(&self, key: &str, version_id: Option<&str>) -> Result<Option<HashedObject>, ObjectError> {
        let Some(mut output) = self.open(key, version_id).await? else {
            return Ok(None);
        };
        let mut sha256 = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = output.body.next().await {
            let chunk = chunk.map_err(ObjectError::new)?;
            size += chunk.len() as u64;
            sha256.update(&chunk);
        }
        Ok(Some(HashedObject {
            version_id: version_of(output.version_id()),
            sha256: crate::run_manifest::sha256_text(&sha256.finalize()),
            size,
        }))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .map_err(|error| ObjectError::new(error.into_service_error()))?;
        Ok(())
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => Ok(Some(ObjectInfo {
                version_id: version_of(output.version_id()),
                key: key.to_owned(),
                size: u64::try_from(output.content_length().unwrap_or(0)).unwrap_or(0),
                last_modified: timestamp(output.last_modified()),
            })),
            Err(error) => {
                let error = error.into_service_error();
                if error.is_not_found() {
                    Ok(None)
                } else {
                    Err(ObjectError::new(error))
                }
            }
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, ObjectError> {
        let mut objects = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|error| ObjectError::new(error.into_service_error()))?;
            for object in page.contents() {
                if let Some(key) = object.key() {
                    objects.push(ObjectInfo {
                        version_id: None,
                        key: key.to_owned(),
                        size: u64::try_from(object.size().unwrap_or(0)).unwrap_or(0),
                        last_modified: timestamp(object.last_modified()),
                    });
                }
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                return Ok(objects);
            }
        }
    }

    async fn delete(&self, keys: &[String]) -> Result<(), ObjectError> {
        // DeleteObjects takes at most 1 000 keys a request.
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build().map_err(ObjectError::new))
                .collect::<Result<Vec<_>, _>>()?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(ObjectError::new)?;
            self.client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|error| ObjectError::new(error.into_service_error()))?;
        }
        Ok(())
    }

    async fn tail(&self, key: &str, length: u64) -> Result<Option<Tail>, ObjectError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes=-{}", length.max(1)))
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(error) => {
                let error = error.into_service_error();
                if error.is_no_such_key() {
                    return Ok(None);
                }
                return Err(ObjectError::new(error));
            }
        };
        let last_modified = timestamp(output.last_modified());
        let version_id = version_of(output.version_id());
        let content_range = output.content_range().map(str::to_owned);
        let bytes = output
            .body
            .collect()
            .await
            .map_err(ObjectError::new)?
            .into_bytes()
            .to_vec();
        let size = total_size(content_range.as_deref(), bytes.len() as u64);
        Ok(Some(Tail {
            bytes,
            info: ObjectInfo {
                version_id,
                key: key.to_owned(),
                size,
                last_modified,
            },
        }))
    }

    async fn range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, ObjectError> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes={}-{}", range.start, range.end - 1))
            .send()
            .await
            .map_err(|error| ObjectError::new(error.into_service_error()))?;
        Ok(output
            .body
            .collect()
            .await
            .map_err(ObjectError::new)?
            .into_bytes()
            .to_vec())
    }
}

impl crate::market_data::upload::UploadSigner for S3Objects {
    async fn presign_put(
        &self,
        key: &str,
        sha256: &str,
        length: u64,
        expires: std::time::Duration,
    ) -> Result<(String, std::collections::BTreeMap<String, String>), ObjectError> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(expires).map_err(ObjectError::new)?;
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .checksum_sha256(sha256)
            .content_length(i64::try_from(length).unwrap_or(i64::MAX))
            .presigned(config)
            .await
            .map_err(|error| ObjectError::new(error.into_service_error()))?;
        let headers = presigned
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        Ok((presigned.uri().to_owned(), headers))
    }
}

impl super::DownloadSigner for S3Objects {
    async fn presign_get(&self, key: &str, expires: std::time::Duration) -> Result<String, ObjectError> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(expires).map_err(ObjectError::new)?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|error| ObjectError::new(error.into_service_error()))?;
        Ok(presigned.uri().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_comes_from_the_content_range() {
        assert_eq!(total_size(Some("bytes 900-999/1000"), 100), 1000);
        assert_eq!(total_size(None, 100), 100);
        assert_eq!(total_size(Some("bytes */*"), 7), 7);
    }
}
