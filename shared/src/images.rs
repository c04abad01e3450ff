//! Strategy images: the registry a strategy version's `ecr_url` points into. One port, its ECR adapter.

use std::future::Future;

use aws_sdk_ecr::types::ImageIdentifier;

/// An image by repository and tag or digest, from an image URL such as
/// `123456789012.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:3` or `…/strategy-emacross@sha256:…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub repository: String,
    pub reference: ImageReference,
}

/// How an image is named within its repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageReference {
    Tag(String),
    Digest(String),
}

impl ImageRef {
    /// Parses an image URL: registry host, `/`, repository, then `:tag` (`latest` when absent) or `@digest`.
    pub fn parse(url: &str) -> Option<Self> {
        let (_, path) = url.split_once('/')?;
        let (repository, reference) = match path.split_once('@') {
            Some((repository, digest)) => (repository, ImageReference::Digest(digest.to_owned())),
            None => {
                let (repository, tag) = path.rsplit_once(':').unwrap_or((path, "latest"));
                (repository, ImageReference::Tag(tag.to_owned()))
            }
        };
        let named = !repository.is_empty()
            && !matches!(&reference, ImageReference::Tag(text) | ImageReference::Digest(text) if text.is_empty());
        named.then(|| Self {
            repository: repository.to_owned(),
            reference,
        })
    }
}

/// `url` (`<registry>/<repository>:<tag>` or `@<digest>`) naming the image by `digest` instead: what a task
/// definition runs so that a tag moved later cannot change it.
pub fn by_digest(url: &str, digest: &str) -> String {
    let (host, path) = url.split_once('/').unwrap_or(("", url));
    let repository = match path.split_once('@') {
        Some((repository, _)) => repository,
        None => path.rsplit_once(':').map_or(path, |(repository, _)| repository),
    };
    format!("{host}/{repository}@{digest}")
}

/// Where strategy images are kept.
pub trait ImageRegistry: Send + Sync {
    /// The digest (`sha256:…`) `image` resolves to now, or `None` when it is not in the registry (a missing
    /// repository is a missing image). A tag may move later; the digest names these bytes for good.
    fn digest(&self, image: &ImageRef) -> impl Future<Output = Result<Option<String>, ImageError>> + Send;
}

/// The registry did not answer.
#[derive(Debug, thiserror::Error)]
#[error("the image registry could not be read")]
pub struct ImageError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Amazon ECR, asked with DescribeImages.
#[derive(Debug, Clone)]
pub struct EcrImages {
    client: aws_sdk_ecr::Client,
}

impl EcrImages {
    pub fn new(client: aws_sdk_ecr::Client) -> Self {
        Self { client }
    }
}

impl ImageRegistry for EcrImages {
    async fn digest(&self, image: &ImageRef) -> Result<Option<String>, ImageError> {
        let id = match &image.reference {
            ImageReference::Tag(tag) => ImageIdentifier::builder().image_tag(tag).build(),
            ImageReference::Digest(digest) => ImageIdentifier::builder().image_digest(digest).build(),
        };
        let found = self
            .client
            .describe_images()
            .repository_name(&image.repository)
            .image_ids(id)
            .send()
            .await;
        match found {
            Ok(found) => Ok(found
                .image_details()
                .iter()
                .find_map(|detail| detail.image_digest().map(str::to_owned))
                .or_else(|| match &image.reference {
                    ImageReference::Digest(digest) => Some(digest.clone()),
                    ImageReference::Tag(_) => None,
                })),
            Err(error) => {
                let error = error.into_service_error();
                if error.is_image_not_found_exception() || error.is_repository_not_found_exception() {
                    Ok(None)
                } else {
                    Err(ImageError(Box::new(error)))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_url_names_its_digest_in_place_of_its_tag() {
        let host = "123.dkr.ecr.us-east-1.amazonaws.com";
        for url in [
            format!("{host}/strategy-emacross:3"),
            format!("{host}/strategy-emacross"),
            format!("{host}/strategy-emacross@sha256:0a"),
        ] {
            assert_eq!(
                by_digest(&url, "sha256:4f"),
                format!("{host}/strategy-emacross@sha256:4f"),
                "{url}"
            );
        }
        assert_eq!(
            by_digest("localhost:5000/team/strategy:3", "sha256:4f"),
            "localhost:5000/team/strategy@sha256:4f",
            "a registry's port is not a tag"
        );
    }

    #[test]
    fn image_urls_name_a_repository_and_a_tag_or_digest() {
        let image = ImageRef::parse("123.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:3").expect("url");
        assert_eq!(image.repository, "strategy-emacross");
        assert_eq!(image.reference, ImageReference::Tag("3".into()));
        let image = ImageRef::parse("123.dkr.ecr.us-east-1.amazonaws.com/s@sha256:abc").expect("url");
        assert_eq!(image.reference, ImageReference::Digest("sha256:abc".into()));
        let image = ImageRef::parse("localhost:5000/team/strategy").expect("url");
        assert_eq!(
            (image.repository.as_str(), image.reference),
            ("team/strategy", ImageReference::Tag("latest".into()))
        );
        assert!(ImageRef::parse("strategy-emacross").is_none());
        assert!(ImageRef::parse("host/repo:").is_none());
    }
}
