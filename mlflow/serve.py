"""Starts the deployed MLflow tracking server: PostgreSQL backend store, artifacts proxied to S3, basic auth.

The task definition (template.yaml, MlflowTaskDefinition) gives the database's address and name and the artifact
destination as plain variables, and the database credentials and MLflow's admin user as secrets that ECS injects:
DB_HOST, DB_PORT, DB_NAME, DB_USERNAME, DB_PASSWORD, ARTIFACTS_DESTINATION, MLFLOW_HOST_NAME, and
MLFLOW_AUTH_ADMIN_USERNAME / MLFLOW_AUTH_ADMIN_PASSWORD (which MLflow's auth app reads itself). What cannot be
passed as a variable is built here: the store URI, with the password URL-encoded (RDS generates passwords with
characters a URI must escape), and the auth app's config file, whose user store is the same database.
"""

import os
import sys
from urllib.parse import quote

PORT = "5000"
AUTH_CONFIG = "/tmp/basic_auth.ini"


def required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        sys.exit(f"serve.py: {name} is not set")
    return value


def store_uri() -> str:
    user = quote(required("DB_USERNAME"), safe="")
    password = quote(required("DB_PASSWORD"), safe="")
    host, port, name = required("DB_HOST"), os.environ.get("DB_PORT", "5432"), required("DB_NAME")
    return f"postgresql://{user}:{password}@{host}:{port}/{name}?sslmode=require"


def write_auth_config(uri: str) -> None:
    # configparser interpolates "%": the encoded password's escapes are doubled.
    with open(AUTH_CONFIG, "w", encoding="utf-8") as config:
        config.write(
            "[mlflow]\n"
            "default_permission = NO_PERMISSIONS\n"
            f"database_uri = {uri.replace('%', '%%')}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )


def main() -> None:
    required("MLFLOW_AUTH_ADMIN_USERNAME")
    required("MLFLOW_AUTH_ADMIN_PASSWORD")
    uri = store_uri()
    write_auth_config(uri)
    os.environ["MLFLOW_AUTH_CONFIG_PATH"] = AUTH_CONFIG
    host = required("MLFLOW_HOST_NAME")
    # The Host headers MLflow accepts (DNS-rebinding protection): its Cloud Map name, with and without the port.
    allowed = f"{host},{host}:{PORT},localhost,localhost:{PORT},127.0.0.1:{PORT}"
    arguments = [
        "mlflow", "server",
        "--host", "0.0.0.0", "--port", PORT, "--workers", "2",
        "--backend-store-uri", uri,
        "--serve-artifacts", "--artifacts-destination", required("ARTIFACTS_DESTINATION"),
        "--app-name", "basic-auth",
        "--allowed-hosts", allowed,
    ]
    os.execvp("mlflow", arguments)


if __name__ == "__main__":
    main()
