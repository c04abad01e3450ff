//! The programs a deploy drives — the SAM CLI and Docker — found on PATH as a person's shell finds them. Their
//! output is shown as it comes (on stderr: stdout is the deploy's own answer).

use std::os::fd::AsFd;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use crate::{Failure, exit};

/// One program a deploy needs, with what to tell a person who lacks it.
pub struct Tool {
    program: &'static str,
    /// The arguments that prove it is there and working (`sam --version`; `docker version` needs the daemon).
    probe: &'static [&'static str],
    install: &'static str,
}

impl Tool {
    pub fn sam() -> Tool {
        Tool {
            program: "sam",
            probe: &["--version"],
            install: "install the AWS SAM CLI (https://docs.aws.amazon.com/serverless-application-model/latest/\
                      developerguide/install-sam-cli.html) and put `sam` on PATH",
        }
    }

    pub fn docker() -> Tool {
        Tool {
            program: "docker",
            probe: &["version", "--format", "{{.Server.Version}}"],
            install: "install Docker and start its daemon (`docker version` must show a server): it builds the \
                      MLflow image",
        }
    }

    /// Whether the program runs; a failure is a preflight failure naming the fix.
    pub async fn check(&self) -> Result<String, Failure> {
        let output = tokio::process::Command::new(self.program)
            .args(self.probe)
            .stdin(Stdio::null())
            .output()
            .await;
        match output {
            Ok(output) if output.status.success() => Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned()),
            Ok(output) => Err(Failure::new(
                exit::NOT_READY,
                format!(
                    "`{} {}` failed ({}): {}; {}",
                    self.program,
                    self.probe.join(" "),
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim(),
                    self.install
                ),
            )),
            Err(error) => Err(Failure::new(
                exit::NOT_READY,
                format!("`{}` cannot be run ({error}): {}", self.program, self.install),
            )),
        }
    }

    /// Runs the program with `args`, its output shown as it comes; a non-zero exit fails the deploy.
    pub async fn run(&self, args: &[String]) -> Result<(), Failure> {
        self.run_with_input(args, "").await
    }

    /// As [`Tool::run`], with `input` on its standard input (a password, never an argument).
    pub async fn run_with_input(&self, args: &[String], input: &str) -> Result<(), Failure> {
        let stderr = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|error| Failure::new(exit::ERROR, format!("stderr: {error}")))?;
        let mut child = tokio::process::Command::new(self.program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(stderr))
            .spawn()
            .map_err(|error| Failure::new(exit::NOT_READY, format!("`{}` cannot be run: {error}", self.program)))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .await
                .map_err(|error| Failure::new(exit::ERROR, format!("{}'s input: {error}", self.program)))?;
        }
        let status = child
            .wait()
            .await
            .map_err(|error| Failure::new(exit::ERROR, format!("{}: {error}", self.program)))?;
        if status.success() {
            Ok(())
        } else {
            let first = args.first().map(String::as_str).unwrap_or_default();
            Err(Failure::new(
                exit::ERROR,
                format!(
                    "`{} {first}` failed ({status}); its output above says why",
                    self.program
                ),
            ))
        }
    }
}
