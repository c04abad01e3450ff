//! The project's `template.yaml`, as the local deployment reads it, for tests that check what it declares.

use serde_json::Value;
use tradai_local::Template;

/// The project's template as JSON; a template that does not read fails the test with the reason.
pub fn template() -> &'static Value {
    project().value()
}

/// The `Properties` of resource `logical_id`; fails the test naming it when the template lacks it.
pub fn properties(logical_id: &str) -> &'static Value {
    project()
        .properties(logical_id)
        .unwrap_or_else(|error| panic!("{error}"))
}

fn project() -> &'static Template {
    Template::project().unwrap_or_else(|error| panic!("{error}"))
}

/// `template` (a path under the project root) as CloudFormation receives it: after the SAM transform of the pinned
/// SAM CLI's translator (`tests/stand-ins/sam-transform.py`).
pub fn transformed(template: &str) -> Value {
    let root = crate::project_root();
    let output = std::process::Command::new(root.join(".stand-ins/sam/bin/python"))
        .arg(root.join("tests/stand-ins/sam-transform.py"))
        .arg(root.join(template))
        .output()
        .expect("the SAM CLI's Python (make stand-ins)");
    assert!(
        output.status.success(),
        "{template} does not transform: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}
