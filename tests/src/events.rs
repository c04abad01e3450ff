//! The sample events in `events/<function>/`, as files and as lambda_http requests.

use std::path::{Path, PathBuf};

use lambda_http::Request;

use crate::project_root;

/// The event files of `function`, sorted by name.
pub fn files(function: &str) -> Vec<PathBuf> {
    let folder = project_root().join("events").join(function);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", folder.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// The folders of `events/`, one per function.
pub fn functions() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(project_root().join("events"))
        .expect("events/")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// An API Gateway (HTTP API, payload 2.0) event file as the request lambda_http hands a handler.
pub fn request(path: &Path) -> Request {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    request_from_json(&text)
}

/// An API Gateway event, as JSON text, as the request lambda_http hands a handler.
pub fn request_from_json(text: &str) -> Request {
    lambda_http::request::from_str(text).unwrap_or_else(|e| panic!("not an API Gateway event: {e}"))
}

/// The file name of `path` without its folder.
pub fn name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}
