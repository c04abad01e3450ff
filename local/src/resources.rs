//! The stateful resources of `template.yaml` made in moto: the job, idempotency and sweep tables with the
//! template's keys, indexes and billing, the backtest FIFO queue with its dead-letter queue and redrive policy, and
//! the market-data, configs and results buckets, versioned as the template has them. Names carry a suffix, so
//! several sets live side by side.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use crate::{Error, Template};

/// The names of one set of resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub table: String,
    pub idempotency_table: String,
    /// The sweep table (`SWEEP_TABLE`).
    pub sweep_table: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub dead_letter_queue_url: String,
    /// The market-data bucket; `MARKET_DATA_S3_URI` is `s3://{market_data_bucket}/ohlcv`, as the template sets it.
    pub market_data_bucket: String,
    /// The configs bucket (`S3_CONFIG_BUCKET`): strategies' base configs and merged run configs.
    pub config_bucket: String,
    /// The results bucket (`S3_RESULTS_BUCKET`): `results/{run_id}/`.
    pub results_bucket: String,
    /// The log group strategy containers print to (`STRATEGY_LOG_GROUP`).
    pub strategy_log_group: String,
}

impl Resources {
    /// Makes every resource where `sdk` points, each named after its template name and `suffix`.
    pub async fn create(template: &Template, sdk: &SdkConfig, suffix: &str) -> Result<Resources, Error> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let table = format!("tradai-workflow-state-{suffix}");
        create_table(template, &dynamodb, "WorkflowStateTable", &table).await?;
        let idempotency_table = format!("tradai-idempotency-{suffix}");
        create_table(template, &dynamodb, "IdempotencyTable", &idempotency_table).await?;
        let sweep_table = format!("tradai-sweeps-{suffix}");
        create_table(template, &dynamodb, "SweepTable", &sweep_table).await?;
        let dead_letter_queue_url = create_queue(
            template,
            &sqs,
            "BacktestDeadLetterQueue",
            &format!("tradai-backtest-dlq-{suffix}.fifo"),
            None,
        )
        .await?;
        let dead_letter_arn = queue_arn(&sqs, &dead_letter_queue_url).await?;
        let queue_url = create_queue(
            template,
            &sqs,
            "BacktestQueue",
            &format!("tradai-backtest-{suffix}.fifo"),
            Some(&dead_letter_arn),
        )
        .await?;
        let queue_arn = queue_arn(&sqs, &queue_url).await?;
        let s3 = tradai::aws::s3_client(sdk);
        let [market_data_bucket, config_bucket, results_bucket] =
            ["market-data", "configs", "results"].map(|kind| format!("tradai-{kind}-{suffix}"));
        for (logical_id, bucket) in [
            ("MarketDataBucket", &market_data_bucket),
            ("ConfigBucket", &config_bucket),
            ("ResultsBucket", &results_bucket),
        ] {
            create_bucket(template, &s3, logical_id, bucket).await?;
        }
        let strategy_log_group = format!("/tradai/{suffix}/strategies");
        aws_sdk_cloudwatchlogs::Client::new(sdk)
            .create_log_group()
            .log_group_name(&strategy_log_group)
            .send()
            .await
            .map_err(|error| {
                Error::aws(
                    format!("creating log group {strategy_log_group}"),
                    error.into_service_error(),
                )
            })?;
        Ok(Resources {
            strategy_log_group,
            table,
            idempotency_table,
            sweep_table,
            queue_url,
            queue_arn,
            dead_letter_queue_url,
            market_data_bucket,
            config_bucket,
            results_bucket,
        })
    }

    /// `MARKET_DATA_S3_URI` of these resources.
    pub fn market_data_uri(&self) -> String {
        format!("s3://{}/ohlcv", self.market_data_bucket)
    }
}

fn text(value: &Value, what: &str) -> Result<String, Error> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::Template(format!("{what} is not a string: {value}")))
}

fn key_schema(value: &Value) -> Result<Vec<KeySchemaElement>, Error> {
    value
        .as_array()
        .ok_or_else(|| Error::Template("KeySchema is not a list".to_owned()))?
        .iter()
        .map(|key| {
            KeySchemaElement::builder()
                .attribute_name(text(&key["AttributeName"], "AttributeName")?)
                .key_type(KeyType::from(text(&key["KeyType"], "KeyType")?.as_str()))
                .build()
                .map_err(|error| Error::Template(format!("KeySchema: {error}")))
        })
        .collect()
}

/// Creates table `name` with the keys, indexes and billing of template resource `logical_id`.
async fn create_table(
    template: &Template,
    client: &aws_sdk_dynamodb::Client,
    logical_id: &str,
    name: &str,
) -> Result<(), Error> {
    let definition = template.properties(logical_id)?;
    let attributes = definition["AttributeDefinitions"]
        .as_array()
        .ok_or_else(|| Error::Template(format!("{logical_id}: AttributeDefinitions is not a list")))?
        .iter()
        .map(|attribute| {
            AttributeDefinition::builder()
                .attribute_name(text(&attribute["AttributeName"], "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(
                    text(&attribute["AttributeType"], "AttributeType")?.as_str(),
                ))
                .build()
                .map_err(|error| Error::Template(format!("{logical_id}: {error}")))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let indexes = match definition["GlobalSecondaryIndexes"].as_array() {
        None => None,
        Some(indexes) => Some(
            indexes
                .iter()
                .map(|index| {
                    let projection = text(&index["Projection"]["ProjectionType"], "ProjectionType")?;
                    GlobalSecondaryIndex::builder()
                        .index_name(text(&index["IndexName"], "IndexName")?)
                        .set_key_schema(Some(key_schema(&index["KeySchema"])?))
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::from(projection.as_str()))
                                .build(),
                        )
                        .build()
                        .map_err(|error| Error::Template(format!("{logical_id}: {error}")))
                })
                .collect::<Result<Vec<_>, Error>>()?,
        ),
    };
    client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(&definition["KeySchema"])?))
        .set_global_secondary_indexes(indexes)
        .billing_mode(BillingMode::from(
            text(&definition["BillingMode"], "BillingMode")?.as_str(),
        ))
        .send()
        .await
        .map_err(|error| Error::aws(format!("creating table {name}"), error.into_service_error()))?;
    Ok(())
}

/// Bucket `name` as the template defines `logical_id`: versioned when the template keeps versions (a run's
/// manifest pins the object versions it reads).
async fn create_bucket(
    template: &Template,
    s3: &aws_sdk_s3::Client,
    logical_id: &str,
    name: &str,
) -> Result<(), Error> {
    s3.create_bucket()
        .bucket(name)
        .send()
        .await
        .map_err(|error| Error::aws(format!("creating bucket {name}"), error.into_service_error()))?;
    if template.properties(logical_id)?["VersioningConfiguration"]["Status"] == "Enabled" {
        let enabled = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            .build();
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(enabled)
            .send()
            .await
            .map_err(|error| Error::aws(format!("versioning bucket {name}"), error.into_service_error()))?;
    }
    Ok(())
}

/// Creates queue `name` with the attributes of template resource `logical_id`; the redrive policy's target is
/// replaced by `dead_letter_arn`.
async fn create_queue(
    template: &Template,
    client: &aws_sdk_sqs::Client,
    logical_id: &str,
    name: &str,
    dead_letter_arn: Option<&str>,
) -> Result<String, Error> {
    let definition = template
        .properties(logical_id)?
        .as_object()
        .ok_or_else(|| Error::Template(format!("{logical_id} has no properties")))?;
    let mut request = client.create_queue().queue_name(name);
    for (property, value) in definition {
        let value = match (property.as_str(), value) {
            ("QueueName" | "Tags", _) => continue,
            ("RedrivePolicy", policy) => {
                let target = dead_letter_arn
                    .ok_or_else(|| Error::Template(format!("{logical_id}: a redrive policy without its queue")))?;
                let mut policy = policy.clone();
                policy["deadLetterTargetArn"] = Value::from(target);
                policy.to_string()
            }
            (_, Value::String(text)) => text.clone(),
            (_, other) => other.to_string(),
        };
        request = request.attributes(QueueAttributeName::from(property.as_str()), value);
    }
    let created = request
        .send()
        .await
        .map_err(|error| Error::aws(format!("creating queue {name}"), error.into_service_error()))?;
    created
        .queue_url
        .ok_or_else(|| Error::Template(format!("moto made queue {name} without a URL")))
}

async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> Result<String, Error> {
    let attributes = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|error| Error::aws(format!("reading queue {url}"), error.into_service_error()))?;
    attributes
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| Error::Template(format!("queue {url} has no ARN")))
}
