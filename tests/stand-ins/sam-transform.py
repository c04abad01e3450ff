"""Prints a SAM template as CloudFormation receives it after the AWS::Serverless-2016-10-31 transform, as JSON.

Usage: .stand-ins/sam/bin/python tests/stand-ins/sam-transform.py TEMPLATE [Name=Value ...]

The transform is the SAM translator the pinned SAM CLI deploys with, run offline: no managed policy is looked up
(the templates name none by name), so no AWS call is made; local CodeUri and DefinitionUri paths become
placeholder S3 URIs, as `sam package` would upload them. The tests read its output to check what a deployment
would create (tests/integration/deployment.rs).
"""

import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    def load(self):
        return {}


def main() -> None:
    # The translator fills AWS::Region; an offline transform names the region the project deploys to.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if len(sys.argv) < 2:
        sys.exit("usage: sam-transform.py TEMPLATE [Name=Value ...]")
    with open(sys.argv[1], encoding="utf-8") as source:
        template = yaml_parse(source.read())
    # What `sam package` does first: local code and definitions become S3 objects (placeholders here).
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "DefinitionUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://packaged/{properties[key]}"
    parameters = dict(argument.split("=", 1) for argument in sys.argv[2:])
    transformed = transform(template, parameters, NoManagedPolicies())
    json.dump(transformed, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
