"""Starts the deployed MLflow tracking server: PostgreSQL backend store, artifacts proxied to S3, basic auth.

The task definition (template.yaml, MlflowTaskDefinition) gives the database's address and name and the artifact
destination as plain variables, and the database credentials and MLflow's admin user as secrets that ECS injects:
DB_HOST, DB_PORT, DB_NAME, DB_USERNAME, DB_PASSWORD, ARTIFACTS_DESTINATION, MLFLOW_HOST_NAME,
MLFLOW_AUTH_ADMIN_USERNAME / MLFLOW_AUTH_ADMIN_PASSWORD (the functions' user) and MLFLOW_STRATEGY_USERNAME /
MLFLOW_STRATEGY_PASSWORD (the strategy containers' user). What cannot be passed as a variable is built here: the
store URI, with the password URL-encoded (RDS generates passwords with characters a URI must escape), the auth app's
config file, whose user store is the same database, and the static secret key the auth app refuses to start without
(MLFLOW_FLASK_SERVER_SECRET_KEY). Before the server starts, both users are set to what their secrets hold now
(`prepare_users`): a rotated secret takes effect at MLflow's next start. The tests start MLflow through these same
functions with a SQLite store (tests/integration/mlflow_registry.rs).
"""

import hashlib
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


def write_auth_config(uri: str, path: str = AUTH_CONFIG) -> None:
    # configparser interpolates "%": the encoded password's escapes are doubled.
    with open(path, "w", encoding="utf-8") as config:
        config.write(
            "[mlflow]\n"
            "default_permission = NO_PERMISSIONS\n"
            f"database_uri = {uri.replace('%', '%%')}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )


def flask_secret_key(admin_password: str) -> str:
    """The static key the auth app signs its CSRF tokens with (MLflow refuses to start without one): derived from the
    admin password, so every task and worker has the same key without another secret, and it changes with it."""
    return hashlib.sha256(f"tradai-mlflow-flask:{admin_password}".encode()).hexdigest()


def auth_environment(store: str, admin_password: str, config_path: str = AUTH_CONFIG) -> dict:
    """What the basic-auth app needs besides MLFLOW_AUTH_ADMIN_*: its config file (users in the store's database)
    and its secret key."""
    write_auth_config(store, config_path)
    return {
        "MLFLOW_AUTH_CONFIG_PATH": config_path,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": flask_secret_key(admin_password),
    }


# What the strategy user may do beyond nothing (default_permission = NO_PERMISSIONS): log runs in any experiment
# (create experiments and runs, log params, metrics and artifacts; not delete or manage them) and read the model
# registry (its versions and aliases, to load a strategy's base config); never write it. MLflow still lets any user
# create a registered model (it then MANAGEs it), so register-strategy withdraws the strategy user's grants on every
# model it registers into.
STRATEGY_GRANTS = (("experiment", "*", "EDIT"), ("registered_model", "*", "READ"))


def prepare_users(store: str, admin: tuple, strategy: tuple) -> None:
    """Sets MLflow's users to the (username, password) pairs their secrets hold now, creating them when missing:
    `admin` an admin (the auth app would seed it only into an empty store, and never change its password), `strategy`
    with STRATEGY_GRANTS only. Safe to run from two starting tasks at once."""
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    users = SqlAlchemyStore()
    users.init_db(store)
    for (username, password), is_admin in ((admin, True), (strategy, False)):
        if not users.has_user(username, use_primary=True):
            try:
                users.create_user(username, password, is_admin=is_admin)
                continue
            except Exception:
                # Another task made it first: set it as below.
                if not users.has_user(username, use_primary=True):
                    raise
        users.update_user(username, password=password, is_admin=is_admin)
    for resource_type, pattern, permission in STRATEGY_GRANTS:
        users.grant_user_permission(strategy[0], resource_type, pattern, permission)


def start_environment(store: str, admin: tuple, strategy: tuple, config_path: str = AUTH_CONFIG) -> dict:
    """Prepares the users, then answers what `mlflow server` needs in its environment besides MLFLOW_AUTH_ADMIN_*."""
    prepare_users(store, admin, strategy)
    return auth_environment(store, admin[1], config_path)


def server_arguments(store: str, artifacts: str, host: str, bind: str = "0.0.0.0", port: str = PORT) -> list:
    """`mlflow server` with the auth app, the store, artifacts proxied to `artifacts`, and the Host headers it accepts
    (DNS-rebinding protection): its name `host`, with and without the port."""
    allowed = f"{host},{host}:{port},localhost,localhost:{port},127.0.0.1:{port}"
    return [
        "mlflow", "server",
        "--host", bind, "--port", port, "--workers", "2",
        "--backend-store-uri", store,
        "--serve-artifacts", "--artifacts-destination", artifacts,
        "--app-name", "basic-auth",
        "--allowed-hosts", allowed,
    ]


def main() -> None:
    admin = (required("MLFLOW_AUTH_ADMIN_USERNAME"), required("MLFLOW_AUTH_ADMIN_PASSWORD"))
    strategy = (required("MLFLOW_STRATEGY_USERNAME"), required("MLFLOW_STRATEGY_PASSWORD"))
    uri = store_uri()
    os.environ.update(start_environment(uri, admin, strategy))
    arguments = server_arguments(uri, required("ARTIFACTS_DESTINATION"), required("MLFLOW_HOST_NAME"))
    os.execvp("mlflow", arguments)


if __name__ == "__main__":
    main()
