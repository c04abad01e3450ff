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
