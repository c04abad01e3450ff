//! The template `sam build` wrote, checked before anything is deployed: every function's code is a folder of the
//! build holding an x86-64 `bootstrap` (what `provided.al2023` runs). A template whose functions point at source
//! folders (`CodeUri: .`) would have `sam deploy` zip the checkout as each function's code.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Why the build cannot be deployed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("sam build wrote no template at {0}")]
    NoTemplate(String),
    #[error("{path} does not read: {message}")]
    Unreadable { path: String, message: String },
    #[error("{path} has no functions")]
    NoFunctions { path: String },
    #[error(
        "{function}'s code is {code_uri:?}, not a folder of the build with an x86-64 bootstrap ({problem}): sam deploy \
         would upload that as its code"
    )]
    NotBuilt {
        function: String,
        code_uri: String,
        problem: String,
    },
}

/// The functions of the built template at `template`, each checked; answers their logical IDs.
pub fn check(template: &Path) -> Result<Vec<String>, BuildError> {
    let path = template.display().to_string();
    let text = std::fs::read_to_string(template).map_err(|_| BuildError::NoTemplate(path.clone()))?;
    let document = tradai_local::template::parse(&text).map_err(|error| BuildError::Unreadable {
        path: path.clone(),
        message: error.to_string(),
    })?;
    let build_dir = template.parent().unwrap_or(Path::new("."));
    let functions: Vec<(&String, &Value)> = document["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function")
        .collect();
    if functions.is_empty() {
        return Err(BuildError::NoFunctions { path });
    }
    let mut checked = Vec::new();
    for (id, resource) in functions {
        let code_uri = resource["Properties"]["CodeUri"].as_str().unwrap_or_default();
        let not_built = |problem: String| BuildError::NotBuilt {
            function: id.clone(),
            code_uri: code_uri.to_owned(),
            problem,
        };
        let folder = artifact_folder(build_dir, code_uri).map_err(not_built)?;
        check_bootstrap(&folder.join("bootstrap")).map_err(not_built)?;
        checked.push(id.clone());
    }
    Ok(checked)
}

/// The folder `code_uri` names, which must lie inside `build_dir` (sam build names it after the function).
fn artifact_folder(build_dir: &Path, code_uri: &str) -> Result<PathBuf, String> {
    if code_uri.is_empty() || code_uri == "." || code_uri.starts_with("s3://") {
        return Err("not a folder of the build".into());
    }
    let folder = build_dir.join(code_uri);
    let (inside, build) = (folder.canonicalize(), build_dir.canonicalize());
    match (inside, build) {
        (Ok(inside), Ok(build)) if inside.starts_with(&build) && inside != build => Ok(inside),
        (Ok(_), Ok(_)) => Err("outside the build folder".into()),
        _ => Err("no such folder".into()),
    }
}

/// `bootstrap` must be an executable 64-bit little-endian ELF for x86-64.
fn check_bootstrap(bootstrap: &Path) -> Result<(), String> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let mut file = std::fs::File::open(bootstrap).map_err(|_| "no bootstrap".to_owned())?;
    let mut header = [0u8; 20];
    let read = file.read_exact(&mut header).is_ok();
    let elf64_x86_64 =
        read && header[..4] == *b"\x7fELF" && header[4] == 2 && header[5] == 1 && header[18..20] == [0x3e, 0];
    if !elf64_x86_64 {
        return Err("the bootstrap is not an x86-64 ELF executable".into());
    }
    let mode = file
        .metadata()
        .map(|metadata| metadata.permissions().mode())
        .unwrap_or(0);
    if mode & 0o111 == 0 {
        return Err("the bootstrap is not executable".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A build folder with `template` and, for each function named, its folder holding a copy of `binary`.
    fn build(template: &str, functions: &[&str], binary: &Path) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tradai-built-{}", uuid_like()));
        std::fs::create_dir_all(&dir).expect("folder");
        std::fs::write(dir.join("template.yaml"), template).expect("template");
        for function in functions {
            std::fs::create_dir_all(dir.join(function)).expect("folder");
            std::fs::copy(binary, dir.join(function).join("bootstrap")).expect("bootstrap");
        }
        dir
    }

    fn uuid_like() -> String {
        format!("{}-{:?}", std::process::id(), std::time::Instant::now())
            .replace(|c: char| !c.is_ascii_alphanumeric(), "")
    }

    const TEMPLATE: &str = "Resources:\n  HealthFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
                            CodeUri: HealthFunction\n      Handler: bootstrap\n  Topic:\n    Type: AWS::SNS::Topic\n";

    #[test]
    fn a_build_of_x86_64_bootstraps_passes_and_source_folders_or_scripts_do_not() {
        // The test binary itself: an x86-64 ELF on the machines this project builds on.
        let elf = std::env::current_exe().expect("the test binary");
        let good = build(TEMPLATE, &["HealthFunction"], &elf);
        assert_eq!(check(&good.join("template.yaml")).expect("built"), ["HealthFunction"]);

        let source = build(&TEMPLATE.replace("CodeUri: HealthFunction", "CodeUri: ."), &[], &elf);
        let error = check(&source.join("template.yaml")).expect_err("the checkout as code");
        assert!(
            error.to_string().starts_with("HealthFunction's code is \".\""),
            "{error}"
        );

        let script = std::env::temp_dir().join(format!("tradai-script-{}", uuid_like()));
        std::fs::write(&script, "#!/bin/sh\n").expect("script");
        let scripted = build(TEMPLATE, &["HealthFunction"], &script);
        let error = check(&scripted.join("template.yaml")).expect_err("not an ELF");
        assert!(error.to_string().contains("not an x86-64 ELF"), "{error}");

        let error = check(&good.join("nothing.yaml")).expect_err("no template");
        assert!(matches!(error, BuildError::NoTemplate(_)), "{error}");
        for dir in [good, source, scripted] {
            std::fs::remove_dir_all(dir).ok();
        }
        std::fs::remove_file(script).ok();
    }
}
