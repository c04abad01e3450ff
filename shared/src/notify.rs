//! Notifications of how a backtest ended: one port, its SNS adapter. Subscribers filter on the attributes.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_sns::types::MessageAttributeValue;

/// A message for the notifications topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// At most 100 characters (SNS's limit for e-mail subjects); longer ones are cut.
    pub subject: String,
    pub message: String,
    /// String attributes subscribers' filter policies match on.
    pub attributes: BTreeMap<String, String>,
}

/// Where notifications go.
pub trait Notifier: Send + Sync {
    /// Publishes `notification`; answers the message id.
    fn publish(&self, notification: &Notification) -> impl Future<Output = Result<String, NotifyError>> + Send;
}

/// The notification was not published.
#[derive(Debug, thiserror::Error)]
#[error("the notification could not be published")]
pub struct NotifyError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// An SNS topic.
#[derive(Debug, Clone)]
pub struct SnsTopic {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsTopic {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

impl Notifier for SnsTopic {
    async fn publish(&self, notification: &Notification) -> Result<String, NotifyError> {
        let mut publish = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(notification.subject.chars().take(100).collect::<String>())
            .message(&notification.message);
        for (name, value) in &notification.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|error| NotifyError(Box::new(error)))?;
            publish = publish.message_attributes(name, attribute);
        }
        let published = publish
            .send()
            .await
            .map_err(|error| NotifyError(Box::new(error.into_service_error())))?;
        Ok(published.message_id.unwrap_or_default())
    }
}
