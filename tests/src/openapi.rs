//! `openapi.yaml`: its routes, and the response schemas handler answers are checked against (JSON Schema 2020-12,
//! as OpenAPI 3.1 uses).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

use crate::project_root;

/// The parsed document.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let path = project_root().join("openapi.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        tradai_local::template::parse(&text).unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()))
    })
}

/// Every operation as `METHOD /path`.
pub fn routes() -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for (path, item) in document()["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            routes.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    routes
}

/// Follows a local `$ref` such as `#/components/responses/Error`.
fn resolve(value: &Value) -> &Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("a local reference");
            resolve(
                document()
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("openapi.yaml: no {reference}")),
            )
        }
        None => value,
    }
}

/// Checks that `body` is what `openapi.yaml` documents for `route` (`METHOD /path`) answering `status`.
pub fn check_response(route: &str, status: u16, body: &Value) -> Result<(), String> {
    static VALIDATORS: OnceLock<Mutex<HashMap<(String, u16), jsonschema::Validator>>> = OnceLock::new();
    let (method, path) = route.split_once(' ').ok_or_else(|| format!("not a route: {route}"))?;
    let operation = &document()["paths"][path][method.to_lowercase()];
    if operation.is_null() {
        return Err(format!("openapi.yaml documents no {route}"));
    }
    let response = operation["responses"]
        .get(status.to_string())
        .map(resolve)
        .ok_or_else(|| format!("openapi.yaml documents no {status} answer for {route}"))?;
    let schema = response["content"]["application/json"]["schema"].clone();
    let mut validators = VALIDATORS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let key = (route.to_owned(), status);
    if !validators.contains_key(&key) {
        // The schema's references point into the document's components: give them to the validator as its root.
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": document()["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::validator_for(&root).map_err(|e| format!("{route} {status}: bad schema: {e}"))?;
        validators.insert(key.clone(), validator);
    }
    let validator = &validators[&key];
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{route} {status}: {}", errors.join("; ")))
    }
}
