use std::ops::Range;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::DateTime;

use super::{ObjectError, ObjectInfo, ObjectStore, Tail};
use crate::time::Timestamp;

/// Objects in one S3 bucket, read with ranged GETs.
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
}

fn failed<E: std::error::Error + Send + Sync + 'static>(error: E) -> ObjectError {
    ObjectError(Box::new(error))
}

fn timestamp(time: Option<&DateTime>) -> Option<Timestamp> {
    let time = time?;
    chrono::DateTime::from_timestamp(time.secs(), time.subsec_nanos()).map(Timestamp::from)
}

/// The object's full size from a ranged answer's `Content-Range: bytes a-b/size`.
fn total_size(content_range: Option<&str>, fallback: u64) -> u64 {
    content_range
        .and_then(|range| range.rsplit_once('/'))
        .and_then(|(_, size)| size.parse().ok())
        .unwrap_or(fallback)
}

impl S3Objects {
    /// Writes `bytes` at `key`.
    pub async fn put_object(&self, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .map_err(|error| failed(error.into_service_error()))?;
        Ok(())
    }

    /// The whole object at `key`, or `None` when there is none.
    pub async fn get_object(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        let output = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => output,
            Err(error) => {
                let error = error.into_service_error();
                return if error.is_no_such_key() {
                    Ok(None)
                } else {
                    Err(failed(error))
                };
            }
        };
        Ok(Some(output.body.collect().await.map_err(failed)?.into_bytes().to_vec()))
    }

    /// Deletes every object under `prefix`; answers how many there were.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, ObjectError> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let keys: Vec<String> = self.list(prefix).await?.into_iter().map(|object| object.key).collect();
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build().map_err(failed))
                .collect::<Result<Vec<_>, _>>()?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(failed)?;
            self.client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|error| failed(error.into_service_error()))?;
        }
        Ok(keys.len())
    }

    /// Whether the bucket exists and may be read.
    pub async fn head_bucket(&self) -> Result<(), ObjectError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|error| failed(error.into_service_error()))?;
        Ok(())
    }
}

impl ObjectStore for S3Objects {
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
                return Err(failed(error));
            }
        };
        let last_modified = timestamp(output.last_modified());
        let content_range = output.content_range().map(str::to_owned);
        let bytes = output.body.collect().await.map_err(failed)?.into_bytes().to_vec();
        let size = total_size(content_range.as_deref(), bytes.len() as u64);
        Ok(Some(Tail {
            bytes,
            info: ObjectInfo {
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
            .map_err(|error| failed(error.into_service_error()))?;
        Ok(output.body.collect().await.map_err(failed)?.into_bytes().to_vec())
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
                .map_err(|error| failed(error.into_service_error()))?;
            for object in page.contents() {
                if let Some(key) = object.key() {
                    objects.push(ObjectInfo {
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
