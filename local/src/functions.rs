//! The function binaries, served as Lambda serves them: `cargo lambda watch` (from the project's virtualenv) on a
//! loopback port, each function with its own environment, invoked through the Lambda Invoke API.
//!
//! `cargo lambda watch` gives a function the variables of its `--env-vars` and, over them, those of the file its
//! crate's `[package.metadata.lambda.watch] env_file` names (`<binary>.env`), read from the folder it runs in at
//! each start of the function. Each deployment runs it in a folder of its own and writes there each function's
//! file from its template entry, so every function sees exactly the variables AWS would give it.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::Value;

use crate::{Error, project_root};

/// Runs its arguments as a command until the process named by STAND_IN_PARENT_PID (or the command) ends, then
/// stops its whole process group.
const WATCHDOG: &str = r#""$@" & child=$!
while kill -0 "$STAND_IN_PARENT_PID" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
kill -TERM -- "-$$" 2>/dev/null"#;

/// `cargo lambda watch` serving the workspace's functions.
pub struct Functions {
    invoker: Invoker,
    process: Child,
    /// Where it runs, with the functions' environment files.
    folder: std::path::PathBuf,
}

/// Invokes the functions through the Lambda Invoke API of `cargo lambda watch`.
#[derive(Debug, Clone)]
pub struct Invoker {
    url: String,
    http: reqwest::Client,
}

impl Invoker {
    /// Invocations of the functions served at `url`.
    pub fn new(url: String) -> Result<Invoker, Error> {
        let http = reqwest::Client::builder()
            // A first invocation may wait for cargo to build the function.
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|error| Error::Start {
                what: "an HTTP client".to_owned(),
                source: std::io::Error::other(error),
            })?;
        Ok(Invoker { url, http })
    }

    /// The Invoke URL of function `name`.
    pub fn invoke_url(&self, name: &str) -> String {
        format!("{}/2015-03-31/functions/{name}/invocations", self.url)
    }

    /// Invokes function `name` with `event`; answers what it returned, or its error as [`Error::Function`].
    pub async fn invoke(&self, name: &str, event: &Value) -> Result<Value, Error> {
        let answer = self
            .http
            .post(self.invoke_url(name))
            .json(event)
            .send()
            .await
            .map_err(|error| Error::Function {
                function: name.to_owned(),
                message: format!("cargo lambda watch did not answer: {error}"),
            })?;
        let ok = answer.status().is_success();
        let body: Value = answer.json().await.map_err(|error| Error::Function {
            function: name.to_owned(),
            message: format!("the answer is not JSON: {error}"),
        })?;
        if ok {
            Ok(body)
        } else {
            Err(Error::Function {
                function: name.to_owned(),
                message: body.to_string(),
            })
        }
    }
}

impl Functions {
    /// Starts `cargo lambda watch` on loopback `port`, every function with `environment` (where AWS is, with what
    /// credentials) and each with its own variables (`functions`: binary → variables); its output goes to
    /// `.stand-ins/cargo-lambda.log`. It stops with this process.
    pub fn start(
        port: u16,
        environment: &[(&str, String)],
        functions: &BTreeMap<String, Vec<(String, String)>>,
    ) -> Result<Functions, Error> {
        let root = project_root();
        let program = root.join(".stand-ins/venv/bin/cargo-lambda");
        if !program.exists() {
            return Err(Error::NotInstalled {
                tool: "cargo-lambda",
                path: program,
            });
        }
        let log_path = root.join(".stand-ins/cargo-lambda.log");
        // `cargo lambda watch` watches the folder it runs in, recursively, even with --ignore-changes: run from the
        // project's root it would put an inotify watch on every folder of the build and the stand-ins and, past the
        // limit, fail a function instance. From a folder of its own it watches nothing of size.
        let folder = root.join(".stand-ins/lambda-watch").join(port.to_string());
        let unwritable = |source| Error::Start {
            what: format!("the functions' environment files in {}", folder.display()),
            source,
        };
        std::fs::create_dir_all(&folder).map_err(unwritable)?;
        for (binary, variables) in functions {
            let file = env_file(variables).map_err(|problem| Error::Template(format!("{binary}: {problem}")))?;
            std::fs::write(folder.join(format!("{binary}.env")), file).map_err(unwritable)?;
        }
        let variables: Vec<String> = environment
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        // In a process group of its own, stopped as a whole (with the functions it started) once this process is
        // gone.
        let mut command = Command::new("bash");
        // Nothing of this process's own environment reaches a function under a name a function's file sets.
        for (name, _) in functions.values().flatten() {
            command.env_remove(name);
        }
        command
            .arg("-c")
            .arg(WATCHDOG)
            .arg("cargo-lambda-watchdog")
            .arg(program)
            .args(["lambda", "watch", "--ignore-changes", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .arg("--env-vars")
            .arg(variables.join(","))
            .env("STAND_IN_PARENT_PID", std::process::id().to_string())
            .process_group(0)
            .current_dir(&folder)
            .envs(environment.iter().map(|(name, value)| (*name, value.as_str())));
        let process = crate::spawn_logged(&mut command, "cargo lambda watch", &log_path)?;
        let mut functions = Functions {
            invoker: Invoker::new(format!("http://127.0.0.1:{port}"))?,
            process,
            folder,
        };
        if let Err(error) = crate::wait_for_port("cargo lambda watch", port, Duration::from_secs(60), &log_path) {
            functions.stop();
            return Err(error);
        }
        Ok(functions)
    }

    /// The Invoke URL of function `name`.
    pub fn invoke_url(&self, name: &str) -> String {
        self.invoker.invoke_url(name)
    }

    /// What invokes the functions, for whoever calls them.
    pub fn invoker(&self) -> Invoker {
        self.invoker.clone()
    }

    /// Invokes function `name` with `event`; answers what it returned, or its error as [`Error::Function`].
    pub async fn invoke(&self, name: &str, event: &Value) -> Result<Value, Error> {
        self.invoker.invoke(name, event).await
    }

    /// Stops `cargo lambda watch` and the functions it started.
    pub fn stop(&mut self) {
        if let Ok(pid) = i32::try_from(self.process.id()) {
            // The watchdog leads its own process group: the group goes, functions included.
            let _gone = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
        }
        let _reaped = self.process.wait();
        let _removed = std::fs::remove_dir_all(&self.folder);
    }
}

/// An environment file as `cargo lambda watch` reads it (`env-file-reader`): `KEY="value"` lines. Its quoted
/// values cannot carry a backslash or a line break as they are, so a value with either (or a quote) is refused.
fn env_file(variables: &[(String, String)]) -> Result<String, String> {
    let mut file = String::new();
    for (name, value) in variables {
        if value.contains(['"', '\\', '\n', '\r']) {
            return Err(format!("{name}'s value {value:?} has a quote, backslash or line break"));
        }
        file.push_str(&format!("{name}=\"{value}\"\n"));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_file_keeps_commas_and_refuses_what_it_cannot_carry() {
        let variables = [
            ("ECS_SUBNETS".to_owned(), "subnet-a,subnet-b".to_owned()),
            ("ECS_TASK_PREFIX".to_owned(), "strategy-".to_owned()),
        ];
        assert_eq!(
            env_file(&variables),
            Ok("ECS_SUBNETS=\"subnet-a,subnet-b\"\nECS_TASK_PREFIX=\"strategy-\"\n".to_owned())
        );
        let quoted = [("SAID".to_owned(), r#"a "b""#.to_owned())];
        assert!(env_file(&quoted).is_err_and(|problem| problem.starts_with("SAID")));
    }
}
