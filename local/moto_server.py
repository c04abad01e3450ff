"""Starts moto's server (the local stand-in for AWS) on loopback.

Usage: python moto_server.py PORT

moto's server is threaded and its DynamoDB backend checks a condition and writes the item in separate steps,
so two concurrent conditional writes can both succeed; on AWS exactly one does. Requests to DynamoDB are
therefore served one at a time here (see make_dynamodb_atomic), which is what makes the store's race tests
meaningful.

When STAND_IN_PARENT_PID is set, the server exits as soon as that process is gone, so a test run that started it
never leaves it behind.

Step Functions. moto (pinned: 5.2.5) carries an interpreter of the Amazon States Language; the patches below make
it run our state machine (statemachine/backtest.asl.json) the way AWS does. Each is a small function applied before
moto's main(); each checks first that the moto class or attribute it changes is still there and otherwise stops the
launcher with a message naming it (exit status 1), so an upgrade of moto cannot silently drop a patch.

- enable_stepfunctions_execution: executions really run from the start (moto's default is to record them only);
  the same as POST /moto-api/config {"stepfunctions": {"execute_state_machine": true}}, which sets
  moto.core.config.default_user_config["stepfunctions"]. StopExecution still aborts a running execution.
- fix_ecs_parameter_case (moto issue #10076, `ecs:runTask.sync` dies with KeyError 'Cluster'): StateTaskService's
  _normalise_parameters / _normalise_response are empty, so the PascalCase parameters of the state reached boto3
  unchanged (its serializer raises the KeyError) and the camelCase answer was read with PascalCase keys. For ECS they
  now translate both ways along botocore's shapes of the operation, with moto's own _to_boto_request /
  _from_boto_response; timestamps in the result become epoch milliseconds, as the AWS service integration gives
  them. Every RunTask parameter is accepted: moto silently dropped the ones outside a fixed list (among them
  CapacityProviderStrategy and Tags, which our state machine uses).
- fix_sfn_parameter_case: the same gap for the Step Functions integration (`states:startExecution.sync:2`, which the
  sweep workflow's map runs every child with): StateTaskServiceSfn's own _normalise_parameters only turns Input into
  JSON text, then calls the empty base, so StateMachineArn, Name and Input reached boto3 in PascalCase (the state
  failed with States.Runtime 'StateMachineArn') and StartExecution's answer was read as ExecutionArn. Both ways now
  follow botocore's shapes, as for ECS; Input and Output of the finished child stay the JSON values `.sync:2` gives.
- enforce_tolerated_failures: moto's Distributed Map counted its failed items but always succeeded. As on AWS, the
  map state now fails with States.ExceedToleratedFailureThreshold when more items failed than tolerated: more than
  ToleratedFailureCount (when given), more than ToleratedFailurePercentage of the items (when given), or any item
  when neither is given. AWS stops a map run as soon as the threshold is passed; here the check is made when every
  item has ended, so children already started still finish (the sweep's outcome is the same); a stopped execution
  is not failed by it (its items were aborted: it ends ABORTED, as on AWS).
- make_ecs_sync_fail_like_aws: what AWS does around `ecs:runTask(.sync|.waitForTaskToken)`:
  a non-empty Failures list in RunTask's answer fails the state with AmazonECS.Unknown (Cause: that answer as
  JSON); a `.sync` task that has STOPPED with a container whose exit code is non-zero or missing fails the state
  with States.TaskFailed, its Cause the stopped task as JSON (PascalCase: Containers[].ExitCode, StopCode,
  StoppedReason, ...); exit code 0 makes the stopped task the state's result. An error answer from ECS becomes
  ECS.<error code> for codes in the ECS service model, ECS.AmazonECSException for any other code (as the AWS Java
  SDK names it). The state's output for RunTask is RunTask's answer (moto put a DescribeTasks answer there). Every
  container of the task is taken as essential: DescribeTasks does not say which ones are.
- scale_retry_waits: a Retry's wait is a real sleep in RetrierDecl; it is multiplied by the float in
  TRADAI_SFN_RETRY_SCALE (default 1.0; 0.001 runs IntervalSeconds 2 in 2 ms), so tests can exercise retries.
- fix_definite_jsonpath: moto's extract_json returned a list for a path through an array index, e.g.
  `$.Containers[0].ExitCode` gave [0]. A definite path (only names and single indices: no wildcard, filter, slice,
  union or `..`) now yields the single value, as on AWS; other paths keep moto's behaviour.
- page_execution_history: moto's GetExecutionHistory answered every event, oldest first, whatever was asked;
  reverseOrder, maxResults (default 1000) and nextToken now page it as on AWS, so "the state entered last" can be
  read from the newest events.
- keep_stopped_executions_aborted: a state still running when StopExecution arrives ends after it, and moto's
  program then failed the execution: setting the next state of a stopped program raises, and Environment.set_error
  replaced the stopped state with States.Runtime, so the execution ended FAILED instead of ABORTED (more often the
  busier the machine). As on AWS, an error after the stop no longer changes it: the execution ends ABORTED.
- make_states_runtime_uncatchable: on AWS a States.Runtime error (e.g. a JSONPath in Parameters that is not in
  the input) is never retried or caught, the execution fails; and States.ALL does not match
  States.DataLimitExceeded. moto matched both with States.ALL, so the execution took a Catch path instead.

ECR. Strategy versions pin their image by digest (registration keeps the digest the tag had and registers the
task definition with it), so the stand-in's digests must name the image's content, and an image a tag moves away
from must stay, untagged, as on ECR:

- digest_images_by_manifest: moto made an image's digest from its layers' digests alone (every image without
  layers had the digest of nothing, sha256:e3b0c442…); as a registry does, it is now the SHA-256 of the manifest.
- keep_retagged_images: a push of another image with a tag the repository holds deleted the image the tag was on;
  on ECR that image only loses the tag and stays, untagged, reachable by its digest (what a version registered
  with it, and its re-runs, run).

Service Quotas. moto answers quotas of `vpc` only; `tradai deploy` reads an account's compute quotas before it
deploys:

- serve_compute_quotas: GetServiceQuota also answers Lambda's concurrent executions (L-B99A9384, 1000) and Fargate's
  On-Demand and Spot vCPU counts (L-3032A538, L-36FBB829, 6 each), AWS's defaults for a new account, per account
  and region; RequestServiceQuotaIncrease of one of them is approved at once and sets it to the value asked (any
  value: a test lowers a quota in an account of its own, reached by assuming a role in it).

moto's interpreter calls every service (Lambda, ECS, DynamoDB, SNS, ...) with boto3 at http://localhost:$MOTO_PORT.
When MOTO_PORT is not set it is set to PORT here, so those calls reach this server; set it to another port to put
a router in front (Lambda and ECS to local stand-ins, everything else back to this server).
"""

import datetime
import functools
import hashlib
import importlib
import inspect
import json
import math
import os
import sys
import threading
import time
from typing import Any, NoReturn

from moto.server import main


def make_dynamodb_atomic() -> None:
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    lock = threading.RLock()

    @functools.wraps(original)
    def call_action(self):  # type: ignore[no-untyped-def]
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action


def exit_with_parent(pid: int) -> None:
    def watch() -> None:
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass
            time.sleep(0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


# --- Step Functions patches -----------------------------------------------------------------------------------------

SFN = "moto.stepfunctions.parser.asl"
SERVICE = f"{SFN}.component.state.exec.state_task.service"
ECS_ERROR_FOR_UNMODELLED_CODES = "ECS.AmazonECSException"


def cannot_patch(patch: str, what: str) -> NoReturn:
    import moto

    sys.exit(
        f"moto_server.py: patch {patch} does not apply to moto {moto.__version__}: {what}. "
        "The Step Functions stand-in would diverge from AWS; fix the patch (local/moto_server.py) "
        "or pin moto back."
    )


def load(patch: str, module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        cannot_patch(patch, f"module {module} cannot be imported ({error})")


def attribute(patch: str, owner: Any, name: str) -> Any:
    try:
        return getattr(owner, name)
    except AttributeError:
        cannot_patch(patch, f"{getattr(owner, '__name__', owner)} has no attribute {name}")


def own_method(patch: str, cls: type, name: str) -> Any:
    """A method the class itself defines (not one it inherits): the one a patch replaces."""
    if name not in vars(cls):
        cannot_patch(patch, f"{cls.__module__}.{cls.__qualname__} no longer defines {name}")
    return vars(cls)[name]


def source_of(patch: str, function: Any) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError) as error:
        cannot_patch(patch, f"the source of {function.__qualname__} cannot be read ({error})")


def enable_stepfunctions_execution() -> None:
    patch = "enable_stepfunctions_execution"
    config = attribute(patch, load(patch, "moto.core.config"), "default_user_config")
    if "execute_state_machine" not in config.get("stepfunctions", {}):
        cannot_patch(patch, 'moto.core.config.default_user_config has no ["stepfunctions"]["execute_state_machine"]')
    get_backend = attribute(patch, load(patch, "moto.stepfunctions.responses"), "get_backend")
    if "execute_state_machine" not in source_of(patch, get_backend):
        cannot_patch(patch, "moto.stepfunctions.responses.get_backend no longer reads execute_state_machine")
    # What POST /moto-api/config does (MotoAPIBackend.set_config): replace the "stepfunctions" entry.
    config["stepfunctions"] = {"execute_state_machine": True}


@functools.lru_cache(maxsize=None)
def botocore_operation(service: str, snake_case_action: str) -> Any:
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    for name in model.operation_names:
        if xform_name(name) == snake_case_action:
            return model.operation_model(name)
    raise ValueError(f"botocore has no operation {snake_case_action} in service {service}")


def epoch_millis(value: Any) -> Any:
    """Timestamps as the AWS service integration writes them: epoch milliseconds (in place for dicts and lists)."""
    if isinstance(value, datetime.datetime):
        return int(round(value.timestamp() * 1000))
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = epoch_millis(item)
    elif isinstance(value, list):
        value[:] = [epoch_millis(item) for item in value]
    return value


def require_casing_helpers(patch: str, base: Any) -> None:
    """Stops the launcher unless StateTaskService still has what parameters_to_boto and response_from_boto call."""
    for name in ("_to_boto_request", "_from_boto_response", "_get_boto_service_name", "_get_boto_service_action"):
        attribute(patch, base, name)


def boto_operation_of(service_task: Any, service: str | None, action: str | None) -> Any:
    """The botocore operation a service task state calls (its own, or the one named, e.g. describe_execution)."""
    return botocore_operation(
        service_task._get_boto_service_name(service), service_task._get_boto_service_action(action)
    )


def parameters_to_boto(
    self: Any, parameters: dict, boto_service_name: str | None = None, service_action_name: str | None = None
) -> None:
    """The state's PascalCase parameters in boto3's casing, along the operation's input shape."""
    self._to_boto_request(parameters, boto_operation_of(self, boto_service_name, service_action_name).input_shape)


def response_from_boto(
    self: Any, response: Any, boto_service_name: str | None = None, service_action_name: str | None = None
) -> None:
    """boto3's answer in the PascalCase the AWS integration gives, timestamps as epoch milliseconds."""
    self._from_boto_response(response, boto_operation_of(self, boto_service_name, service_action_name).output_shape)
    epoch_millis(response)


def fix_ecs_parameter_case() -> None:
    """moto issue #10076: PascalCase parameters to boto3's camelCase and the answer back, for ECS."""
    patch = "fix_ecs_parameter_case"
    base_module = load(patch, f"{SERVICE}.state_task_service")
    ecs_module = load(patch, f"{SERVICE}.state_task_service_ecs")
    base = attribute(patch, base_module, "StateTaskService")
    ecs = attribute(patch, ecs_module, "StateTaskServiceEcs")
    require_casing_helpers(patch, base)
    for name in ("_normalise_parameters", "_normalise_response"):
        attribute(patch, base, name)
        if name in vars(ecs):
            cannot_patch(patch, f"StateTaskServiceEcs now defines {name} itself (is #10076 fixed?)")
    bindings = attribute(patch, ecs_module, "_SUPPORTED_API_PARAM_BINDINGS")
    if not isinstance(bindings.get("runtask"), set):
        cannot_patch(patch, f'{ecs_module.__name__}._SUPPORTED_API_PARAM_BINDINGS has no "runtask" set')
    snake_to_camel = attribute(patch, load(patch, "moto.stepfunctions.parser.utils"), "snake_to_camel_case")
    camel_to_snake = attribute(patch, load(patch, "moto.stepfunctions.parser.utils"), "camel_to_snake_case")

    ecs._normalise_parameters = parameters_to_boto
    ecs._normalise_response = response_from_boto

    # AWS passes every RunTask parameter on; moto drops those outside its list. Both spellings of each member
    # (EnableECSManagedTags as in the API reference, EnableEcsManagedTags) are accepted, as by AWS.
    for member in botocore_operation("ecs", "run_task").input_shape.members:
        bindings["runtask"].add(member[0].upper() + member[1:])
        bindings["runtask"].add(snake_to_camel(camel_to_snake(member)))


def fix_sfn_parameter_case() -> None:
    """moto issue #10076 for `states:startExecution(.sync|.sync:2)`: PascalCase to boto3's camelCase and back."""
    patch = "fix_sfn_parameter_case"
    base = attribute(patch, load(patch, f"{SERVICE}.state_task_service"), "StateTaskService")
    sfn_module = load(patch, f"{SERVICE}.state_task_service_sfn")
    sfn = attribute(patch, sfn_module, "StateTaskServiceSfn")
    require_casing_helpers(patch, base)
    own_parameters = own_method(patch, sfn, "_normalise_parameters")
    if "super()._normalise_parameters" not in source_of(patch, own_parameters):
        cannot_patch(patch, "StateTaskServiceSfn._normalise_parameters no longer defers to the base")
    if "_normalise_response" in vars(sfn):
        cannot_patch(patch, "StateTaskServiceSfn now defines _normalise_response itself (is #10076 fixed?)")
    if "pass" not in source_of(patch, own_method(patch, base, "_normalise_parameters")):
        cannot_patch(patch, "StateTaskService._normalise_parameters is no longer empty (is #10076 fixed?)")

    def _normalise_parameters(
        self: Any, parameters: dict, boto_service_name: str | None = None, service_action_name: str | None = None
    ) -> None:
        own_parameters(self, parameters, boto_service_name, service_action_name)  # Input as JSON text
        parameters_to_boto(self, parameters, boto_service_name, service_action_name)

    sfn._normalise_parameters = _normalise_parameters
    sfn._normalise_response = response_from_boto


def enforce_tolerated_failures() -> None:
    patch = "enforce_tolerated_failures"
    map_module = load(patch, f"{SFN}.component.state.exec.state_map.state_map")
    StateMap = attribute(patch, map_module, "StateMap")
    tolerated = load(patch, f"{SFN}.component.state.exec.state_map.tolerated_failure")
    CountDecl = attribute(patch, tolerated, "ToleratedFailureCountDecl")
    PercentageDecl = attribute(patch, tolerated, "ToleratedFailurePercentageDecl")
    CountInt = attribute(patch, tolerated, "ToleratedFailureCountInt")
    Percentage = attribute(patch, tolerated, "ToleratedFailurePercentage")
    component = load(patch, f"{SFN}.component.state.exec.state_map.iteration.distributed_iteration_component")
    Distributed = attribute(patch, component, "DistributedIterationComponent")
    original_map_run = own_method(patch, Distributed, "_map_run")
    from_state_props = own_method(patch, StateMap, "from_state_props")
    for name in ("tolerated_failure_count_decl", "tolerated_failure_percentage_decl"):
        if name not in source_of(patch, from_state_props):
            cannot_patch(patch, f"StateMap.from_state_props no longer sets {name}")
    api = load(patch, "moto.stepfunctions.parser.api")
    HistoryEventType = attribute(patch, api, "HistoryEventType")
    MapRunFailedEventDetails = attribute(patch, api, "MapRunFailedEventDetails")
    error_name = f"{SFN}.component.common.error_name"
    failure_event = load(patch, f"{error_name}.failure_event")
    FailureEvent = attribute(patch, failure_event, "FailureEvent")
    FailureEventException = attribute(patch, failure_event, "FailureEventException")
    StatesErrorName = attribute(patch, load(patch, f"{error_name}.states_error_name"), "StatesErrorName")
    types = attribute(patch, load(patch, f"{error_name}.states_error_name_type"), "StatesErrorNameType")
    exceeded = attribute(patch, types, "StatesExceedToleratedFailureThreshold")
    EventDetails = attribute(patch, load(patch, f"{SFN}.eval.event.event_detail"), "EventDetails")
    ProgramStopped = attribute(patch, load(patch, f"{SFN}.eval.program_state"), "ProgramStopped")
    # A threshold the definition does not give is kept as -1, so the check knows which ones apply.
    UNSET = -1

    @functools.wraps(from_state_props)
    def state_props(self: Any, props: Any) -> None:
        from_state_props(self, props)
        if props.get(CountDecl) is None:
            self.tolerated_failure_count_decl = CountInt(tolerated_failure_count=UNSET)
        if props.get(PercentageDecl) is None:
            self.tolerated_failure_percentage_decl = Percentage(tolerated_failure_percentage=float(UNSET))

    @functools.wraps(original_map_run)
    def _map_run(self: Any, env: Any, eval_input: Any) -> None:
        original_map_run(self, env, eval_input)
        if isinstance(env.program_state(), ProgramStopped):
            return  # the execution was stopped: its items were aborted, not failed, and it ends ABORTED
        items = eval_input.map_run_record.item_counter
        total, failed = items.total.get(), items.failed.get() + items.timed_out.get()
        count, percentage = eval_input.tolerated_failure_count, eval_input.tolerated_failure_percentage
        if count < 0 and percentage < 0:
            over = failed > 0
        else:
            over = (count >= 0 and failed > count) or (
                percentage >= 0 and total > 0 and failed * 100.0 / total > percentage
            )
        if over:
            cause = "The specified tolerated failure threshold was exceeded"
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=exceeded),
                    event_type=HistoryEventType.MapRunFailed,
                    event_details=EventDetails(
                        mapRunFailedEventDetails=MapRunFailedEventDetails(error=exceeded.to_name(), cause=cause)
                    ),
                )
            )

    StateMap.from_state_props = state_props
    Distributed._map_run = _map_run


def make_ecs_sync_fail_like_aws() -> None:
    patch = "make_ecs_sync_fail_like_aws"
    ecs_module = load(patch, f"{SERVICE}.state_task_service_ecs")
    ecs = attribute(patch, ecs_module, "StateTaskServiceEcs")
    for name in ("_eval_service_task", "_build_sync_resolver"):
        own_method(patch, ecs, name)
    for name in ("_from_error", "_is_integration_pattern", "_get_sfn_resource", "_get_sfn_resource_type"):
        attribute(patch, ecs, name)
    boto_client_for = attribute(patch, ecs_module, "boto_client_for")
    api = load(patch, "moto.stepfunctions.parser.api")
    HistoryEventType = attribute(patch, api, "HistoryEventType")
    TaskFailedEventDetails = attribute(patch, api, "TaskFailedEventDetails")
    error_name = f"{SFN}.component.common.error_name"
    CustomErrorName = attribute(patch, load(patch, f"{error_name}.custom_error_name"), "CustomErrorName")
    failure_event = load(patch, f"{error_name}.failure_event")
    FailureEvent = attribute(patch, failure_event, "FailureEvent")
    FailureEventException = attribute(patch, failure_event, "FailureEventException")
    StatesErrorName = attribute(patch, load(patch, f"{error_name}.states_error_name"), "StatesErrorName")
    StatesErrorNameType = attribute(patch, load(patch, f"{error_name}.states_error_name_type"), "StatesErrorNameType")
    task_failed = attribute(patch, StatesErrorNameType, "StatesTaskFailed")
    EventDetails = attribute(patch, load(patch, f"{SFN}.eval.event.event_detail"), "EventDetails")
    to_json_str = attribute(patch, load(patch, f"{SFN}.utils.encoding"), "to_json_str")
    ClientError = load(patch, "botocore.exceptions").ClientError
    inherited_from_error = ecs._from_error

    def failure(self: Any, env: Any, name: Any, error: str, cause: str) -> Any:
        return FailureEvent(
            env=env,
            error_name=name,
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=cause,
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )

    def _eval_service_task(
        self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        client = boto_client_for(
            region=resource_runtime_part.region,
            service=self._get_boto_service_name(),
            state_credentials=state_credentials,
        )
        action = self._get_boto_service_action()
        response = getattr(client, action)(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        self._normalise_response(response=response, service_action_name=action)
        if action == "run_task" and self._is_integration_pattern() and response.get("Failures"):
            error = "AmazonECS.Unknown"
            raise FailureEventException(failure(self, env, CustomErrorName(error), error, to_json_str(response)))
        env.stack.append(response)

    def _build_sync_resolver(
        self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> Any:
        client = boto_client_for(
            service="ecs", region=resource_runtime_part.region, state_credentials=state_credentials
        )
        submitted: dict = env.stack.pop()
        task_arn = submitted["Tasks"][0]["TaskArn"]
        cluster_arn = submitted["Tasks"][0]["ClusterArn"]

        def task_failed_with(cause: str) -> Any:
            return FailureEventException(
                failure(self, env, StatesErrorName(typ=task_failed), task_failed.to_name(), cause)
            )

        def _sync_resolver() -> dict | None:
            described = client.describe_tasks(cluster=cluster_arn, tasks=[task_arn])
            described.pop("ResponseMetadata", None)
            if not described.get("tasks"):
                # Not an AWS observation: a task ECS no longer knows fails the state instead of being polled forever.
                self._normalise_response(response=described, service_action_name="describe_tasks")
                raise task_failed_with(to_json_str(described))
            if described["tasks"][0].get("lastStatus") != "STOPPED":
                return None
            self._normalise_response(response=described, service_action_name="describe_tasks")
            task = described["Tasks"][0]
            containers = task.get("Containers") or []
            if not containers or any(container.get("ExitCode") != 0 for container in containers):
                raise task_failed_with(to_json_str(task))
            return task

        return _sync_resolver

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return inherited_from_error(self, env, ex)
        code = ex.response.get("Error", {}).get("Code", "")
        message = ex.response.get("Error", {}).get("Message", "")
        metadata = ex.response.get("ResponseMetadata", {})
        modelled = {shape.name for shape in botocore_operation("ecs", "run_task").service_model.error_shapes}
        error = f"ECS.{code}" if code in modelled else ECS_ERROR_FOR_UNMODELLED_CODES
        details = "; ".join(
            [
                "Service: AmazonECS",
                f"Status Code: {metadata.get('HTTPStatusCode', '')}",
                f"Error Code: {code}",
                f"Request ID: {metadata.get('RequestId', '')}",
                "Proxy: null",
            ]
        )
        return failure(self, env, CustomErrorName(error), error, f"{message} ({details})")

    ecs._eval_service_task = _eval_service_task
    ecs._build_sync_resolver = _build_sync_resolver
    ecs._from_error = _from_error


def scale_retry_waits() -> None:
    patch = "scale_retry_waits"
    retrier = load(patch, f"{SFN}.component.common.retry.retrier_decl")
    eval_body = own_method(patch, attribute(patch, retrier, "RetrierDecl"), "_eval_body")
    if getattr(retrier, "time", None) is not time or "time.sleep(" not in source_of(patch, eval_body):
        cannot_patch(patch, "RetrierDecl._eval_body no longer waits with the time module's sleep")
    text = os.environ.get("TRADAI_SFN_RETRY_SCALE", "").strip() or "1.0"
    try:
        scale = float(text)
    except ValueError:
        scale = math.nan
    if not math.isfinite(scale) or scale < 0:
        sys.exit(f"moto_server.py: TRADAI_SFN_RETRY_SCALE must be a number >= 0, not {text!r}")

    class ScaledSleep:
        """The time module, but sleep() is scaled (only the retrier's module sees this)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            time.sleep(max(0.0, seconds * scale))

    retrier.time = ScaledSleep()


def fix_definite_jsonpath() -> None:
    patch = "fix_definite_jsonpath"
    json_path = load(patch, f"{SFN}.utils.json_path")
    original = attribute(patch, json_path, "extract_json")
    parse = attribute(patch, json_path, "parse")
    NoSuchJsonPathError = attribute(patch, json_path, "NoSuchJsonPathError")
    from jsonpath_ng.jsonpath import Child, Fields, Index, Root, This

    def definite(expression: Any) -> bool:
        if isinstance(expression, (Root, This)):
            return True
        if isinstance(expression, Child):
            return definite(expression.left) and definite(expression.right)
        if isinstance(expression, Fields):
            return len(expression.fields) == 1 and expression.fields[0] != "*"
        if isinstance(expression, Index):
            return len(getattr(expression, "indices", ())) == 1
        return False

    @functools.lru_cache(maxsize=4096)
    def parsed(path: str) -> tuple[Any, bool]:
        expression = parse(path)
        return expression, definite(expression)

    @functools.wraps(original)
    def extract_json(path: str, data: Any) -> Any:
        expression, is_definite = parsed(path)
        if not is_definite:
            return original(path, data)
        matches = expression.find(data)
        if not matches:
            raise NoSuchJsonPathError(json_path=path, data=data)
        return matches[0].value

    probe = {"Containers": [{"ExitCode": 0}, {"ExitCode": 1}], "a": {"b": [7]}}
    if (
        extract_json("$.Containers[0].ExitCode", probe) != 0
        or extract_json("$.a.b[0]", probe) != 7
        or extract_json("$.a.b", probe) != [7]
        or extract_json("$.Containers[*].ExitCode", probe) != [0, 1]
        or parsed("$.a[0,1]")[1]
    ):
        cannot_patch(patch, "jsonpath_ng parses paths differently (Child/Fields/Index.indices)")
    json_path.extract_json = extract_json
    # Modules that imported the function by name before this point get the new one too.
    for module in list(sys.modules.values()):
        if getattr(module, "extract_json", None) is original:
            module.extract_json = extract_json


def make_states_runtime_uncatchable() -> None:
    patch = "make_states_runtime_uncatchable"
    module = load(patch, f"{SFN}.component.common.error_name.error_equals_decl")
    ErrorEqualsDecl = attribute(patch, module, "ErrorEqualsDecl")
    original = own_method(patch, ErrorEqualsDecl, "_eval_body")
    StatesErrorName = attribute(patch, module, "StatesErrorName")
    types = attribute(patch, module, "StatesErrorNameType")
    runtime = attribute(patch, types, "StatesRuntime")
    data_limit = attribute(patch, types, "StatesStatesDataLimitExceeded")
    every = attribute(patch, types, "StatesALL")
    if "error_names" not in source_of(patch, vars(ErrorEqualsDecl)["__init__"]):
        cannot_patch(patch, "ErrorEqualsDecl no longer keeps its names in error_names")

    def listed(decl: Any, typ: Any) -> bool:
        return any(isinstance(name, StatesErrorName) and name.typ == typ for name in decl.error_names)

    @functools.wraps(original)
    def _eval_body(self: Any, env: Any) -> None:
        error = env.stack[-1]  # what the original pops: the error being matched
        if isinstance(error, StatesErrorName) and (
            error.typ == runtime or (error.typ == data_limit and listed(self, every))
        ):
            env.stack.pop()
            env.stack.append(False)
            return
        original(self, env)

    ErrorEqualsDecl._eval_body = _eval_body


def page_execution_history() -> None:
    patch = "page_execution_history"
    module = load(patch, "moto.stepfunctions.responses")
    Response = attribute(patch, module, "StepFunctionResponse")
    ActionResult = attribute(patch, module, "ActionResult")
    original = own_method(patch, Response, "get_execution_history")
    if "reverseOrder" in source_of(patch, original):
        cannot_patch(patch, "moto reads reverseOrder itself now: check its paging and drop this patch")

    @functools.wraps(original)
    def get_execution_history(self: Any) -> Any:
        history = dict(self.stepfunction_backend.get_execution_history(self._get_param("executionArn")))
        events = list(history.get("events", []))
        if self._get_param("reverseOrder"):
            events.reverse()
        token = self._get_param("nextToken")
        start = int(token) if token and str(token).isdigit() else 0
        size = int(self._get_param("maxResults") or 0) or 1000
        history["events"] = events[start : start + size]
        history.pop("nextToken", None)
        if start + size < len(events):
            history["nextToken"] = str(start + size)
        return ActionResult(history)

    Response.get_execution_history = get_execution_history


def keep_stopped_executions_aborted() -> None:
    patch = "keep_stopped_executions_aborted"
    environment = load(patch, f"{SFN}.eval.environment")
    Environment = attribute(patch, environment, "Environment")
    ProgramStopped = attribute(patch, load(patch, f"{SFN}.eval.program_state"), "ProgramStopped")
    set_error = own_method(patch, Environment, "set_error")
    if "self._program_state = ProgramError(" not in source_of(patch, set_error):
        cannot_patch(patch, "Environment.set_error no longer replaces the program state with ProgramError")

    @functools.wraps(set_error)
    def guarded(self: Any, error: Any) -> None:
        with self._state_mutex:  # a re-entrant lock: set_error takes it again
            if isinstance(self._program_state, ProgramStopped):
                return
            set_error(self, error)

    Environment.set_error = guarded


def digest_images_by_manifest() -> None:
    patch = "digest_images_by_manifest"
    Image = attribute(patch, load(patch, "moto.ecr.models"), "Image")
    create = own_method(patch, Image, "_create_digest")
    if "layer_digests" not in source_of(patch, create):
        cannot_patch(patch, "Image._create_digest no longer digests the layers: check how moto digests images")

    def _create_digest(self: Any) -> None:
        self._image_digest = "sha256:" + hashlib.sha256(self.image_manifest.encode("utf-8")).hexdigest()

    Image._create_digest = _create_digest


def keep_retagged_images() -> None:
    patch = "keep_retagged_images"
    models = load(patch, "moto.ecr.models")
    Backend = attribute(patch, models, "ECRBackend")
    attribute(patch, attribute(patch, models, "Image"), "remove_tag")
    attribute(patch, attribute(patch, models, "Repository"), "is_tag_immutable")
    original = own_method(patch, Backend, "put_image")
    if "batch_delete_image" not in source_of(patch, original):
        cannot_patch(patch, "ECRBackend.put_image no longer deletes the image a pushed tag moves from")

    @functools.wraps(original)
    def put_image(
        self: Any, repository_name: str, image_manifest: str, image_tag: str, *args: Any, **kwargs: Any
    ) -> Any:
        repository = self.repositories.get(repository_name)
        if repository is not None and image_tag is not None and not repository.is_tag_immutable():
            for image in repository.images:
                if image_tag in image.image_tags and image.image_manifest != image_manifest:
                    image.remove_tag(image_tag)
                    if not image.image_tags:
                        image.image_tag = None
        return original(self, repository_name, image_manifest, image_tag, *args, **kwargs)

    Backend.put_image = put_image


# (service code, quota code) -> (service name, quota name, AWS's default for a new account).
COMPUTE_QUOTAS = {
    ("lambda", "L-B99A9384"): ("AWS Lambda", "Concurrent executions", 1000.0),
    ("fargate", "L-3032A538"): ("AWS Fargate", "Fargate On-Demand vCPU resource count", 6.0),
    ("fargate", "L-36FBB829"): ("AWS Fargate", "Fargate Spot vCPU resource count", 6.0),
}


def serve_compute_quotas() -> None:
    patch = "serve_compute_quotas"
    models = load(patch, "moto.servicequotas.models")
    Backend = attribute(patch, models, "ServiceQuotasBackend")
    Response = attribute(patch, load(patch, "moto.servicequotas.responses"), "ServiceQuotasResponse")
    NoSuchResource = attribute(patch, load(patch, "moto.servicequotas.exceptions"), "NoSuchResource")
    original = own_method(patch, Backend, "get_service_quota")
    if hasattr(Response, "request_service_quota_increase"):
        cannot_patch(patch, "moto answers RequestServiceQuotaIncrease now: check whether this patch is still needed")

    @functools.wraps(original)
    def get_service_quota(self: Any, service_code: str, quota_code: str) -> Any:
        key = (service_code, quota_code)
        if key not in COMPUTE_QUOTAS:
            return original(self, service_code, quota_code)
        service_name, quota_name, default = COMPUTE_QUOTAS[key]
        return {
            "Adjustable": True,
            "GlobalQuota": False,
            "QuotaArn": f"arn:aws:servicequotas:{self.region_name}:{self.account_id}:{service_code}/{quota_code}",
            "QuotaCode": quota_code,
            "QuotaName": quota_name,
            "ServiceCode": service_code,
            "ServiceName": service_name,
            "Unit": "None",
            "Value": self.__dict__.get("tradai_quotas", {}).get(key, default),
        }

    def request_service_quota_increase(self: Any) -> str:
        params = json.loads(self.body)
        key = (str(params.get("ServiceCode")), str(params.get("QuotaCode")))
        if key not in COMPUTE_QUOTAS:
            raise NoSuchResource
        value = float(params["DesiredValue"])
        self.backend.__dict__.setdefault("tradai_quotas", {})[key] = value
        requested = {"Id": f"{key[0]}-{key[1]}-{time.time_ns()}", "ServiceCode": key[0], "QuotaCode": key[1],
                     "DesiredValue": value, "Status": "APPROVED"}
        return json.dumps({"RequestedQuota": requested})

    Backend.get_service_quota = get_service_quota
    Response.request_service_quota_increase = request_service_quota_increase


def patch_ecr() -> None:
    digest_images_by_manifest()
    keep_retagged_images()


def patch_stepfunctions() -> None:
    enable_stepfunctions_execution()
    fix_ecs_parameter_case()
    fix_sfn_parameter_case()
    enforce_tolerated_failures()
    make_ecs_sync_fail_like_aws()
    scale_retry_waits()
    fix_definite_jsonpath()
    make_states_runtime_uncatchable()
    page_execution_history()
    keep_stopped_executions_aborted()


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: moto_server.py PORT")
    if not os.environ.get("MOTO_PORT"):
        os.environ["MOTO_PORT"] = sys.argv[1]
    make_dynamodb_atomic()
    patch_ecr()
    serve_compute_quotas()
    patch_stepfunctions()
    parent = os.environ.get("STAND_IN_PARENT_PID", "")
    if parent.isdigit():
        exit_with_parent(int(parent))
    sys.exit(main(["-H", "127.0.0.1", "-p", sys.argv[1]]))
