"""Deploys template.yaml onto the emulator as `sam package` and `sam deploy` would, and deletes the stack again."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

FUNCTION = "AWS::Serverless::Function"
FUNCTION_ARN = re.compile(r"\$\{(\w+)\.Arn\}")


class NoManagedPolicies:
    """The transform may ask IAM for managed policy ARNs; the template uses none."""

    def load(self) -> dict[str, str]:
        return {}


def functions(template: dict[str, Any]) -> dict[str, str]:
    """Each function's logical id and the binary its `Metadata.BuildProperties.Binary` names."""
    return {
        name: resource["Metadata"]["BuildProperties"]["Binary"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == FUNCTION
    }


def read_template(path: Path) -> dict[str, Any]:
    return yaml_parse(path.read_text(encoding="utf-8"))


def for_emulator(template: dict[str, Any], architecture: str, code: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """The SAM template as `sam package` leaves it, built for the emulator's architecture.

    `code` maps each function's logical id to the bucket and key of its zip. The
    architecture is the machine's (the emulator runs the bootstrap binaries natively);
    the template's own (arm64) is what `sam build` builds for AWS.
    """
    packaged = copy.deepcopy(template)
    packaged["Globals"]["Function"]["Architectures"] = [architecture]
    for name, (bucket, key) in code.items():
        packaged["Resources"][name]["Properties"]["CodeUri"] = {"Bucket": bucket, "Key": key}
    return packaged


def sam_transform(template: dict[str, Any]) -> dict[str, Any]:
    """The SAM transform CloudFormation applies (the same aws-sam-translator ministack uses)."""
    return transform(copy.deepcopy(template), {}, NoManagedPolicies())


def import_http_apis(template: dict[str, Any]) -> dict[str, Any]:
    """API Gateway's OpenAPI import of each HTTP API `Body`, as native CloudFormation resources.

    SAM emits an HTTP API as `AWS::ApiGatewayV2::Api` with an OpenAPI `Body` that API
    Gateway imports: a route per path and method, a Lambda proxy integration per
    function, the JWT authorizer from `securitySchemes`. ministack's CloudFormation
    ignores `Body`, so this step performs the import: the same routes, integrations and
    authorizer, read from the transform's output, as `AWS::ApiGatewayV2::Route`,
    `Integration` and `Authorizer` resources.
    """
    native = copy.deepcopy(template)
    resources = native["Resources"]
    for api_name, api in list(resources.items()):
        if api["Type"] != "AWS::ApiGatewayV2::Api" or "Body" not in api["Properties"]:
            continue
        body = api["Properties"].pop("Body")
        api["Properties"].update(
            {
                "Name": body["info"]["title"],
                "Description": body["info"].get("description", ""),
                "ProtocolType": "HTTP",
            }
        )
        authorizers: dict[str, str] = {}
        for scheme_name, scheme in body.get("components", {}).get("securitySchemes", {}).items():
            authorizer = scheme["x-amazon-apigateway-authorizer"]
            if authorizer["type"] != "jwt":
                raise ValueError(f"{api_name}: authorizer {scheme_name} is not a JWT authorizer")
            logical_id = f"{api_name}Authorizer{scheme_name}"
            jwt = authorizer["jwtConfiguration"]
            resources[logical_id] = {
                "Type": "AWS::ApiGatewayV2::Authorizer",
                "Properties": {
                    "ApiId": {"Ref": api_name},
                    "Name": scheme_name,
                    "AuthorizerType": "JWT",
                    "IdentitySource": [authorizer["identitySource"]],
                    "JwtConfiguration": {"Issuer": jwt["issuer"], "Audience": jwt["audience"]},
                },
            }
            authorizers[scheme_name] = logical_id
        integrations: dict[str, str] = {}
        routes: list[str] = []
        for path, operations in body["paths"].items():
            for method, operation in operations.items():
                integration = operation["x-amazon-apigateway-integration"]
                uri = integration["uri"]
                function = FUNCTION_ARN.search(json.dumps(uri))
                if integration["type"] != "aws_proxy" or function is None:
                    raise ValueError(f"{api_name}: {method.upper()} {path} is not a Lambda proxy integration")
                integration_id = integrations.setdefault(function.group(1), f"{api_name}Integration{function.group(1)}")
                resources.setdefault(
                    integration_id,
                    {
                        "Type": "AWS::ApiGatewayV2::Integration",
                        "Properties": {
                            "ApiId": {"Ref": api_name},
                            "IntegrationType": "AWS_PROXY",
                            "IntegrationMethod": integration["httpMethod"],
                            "IntegrationUri": uri,
                            "PayloadFormatVersion": integration["payloadFormatVersion"],
                        },
                    },
                )
                route: dict[str, Any] = {
                    "ApiId": {"Ref": api_name},
                    "RouteKey": f"{method.upper()} {path}",
                    "Target": {"Fn::Join": ["/", ["integrations", {"Ref": integration_id}]]},
                    "AuthorizationType": "NONE",
                }
                for requirement in operation.get("security", []):
                    for scheme_name, scopes in requirement.items():
                        if scheme_name in authorizers:
                            route.update(
                                {"AuthorizationType": "JWT", "AuthorizerId": {"Ref": authorizers[scheme_name]}}
                            )
                            if scopes:
                                route["AuthorizationScopes"] = scopes
                route_id = api_name + "Route" + re.sub(r"[^A-Za-z0-9]", "", f"{method.title()}{path.title()}")
                resources[route_id] = {"Type": "AWS::ApiGatewayV2::Route", "Properties": route}
                routes.append(route_id)
        for resource in resources.values():
            # The stage deploys the routes, as the import's deployment does.
            if resource["Type"] == "AWS::ApiGatewayV2::Stage" and resource["Properties"].get("ApiId") == {
                "Ref": api_name
            }:
                resource["DependsOn"] = sorted(set(resource.get("DependsOn", [])) | set(routes))
    return native


@dataclass
class Stack:
    """A deployed stack: its name, outputs, and each logical resource's physical id."""

    name: str
    outputs: dict[str, str]
    resources: dict[str, str]
    template: dict[str, Any] = field(repr=False)

    def function_name(self, logical_id: str) -> str:
        return self.resources[logical_id]


class Deployer:
    """Uploads the artefacts and the template to a bucket and creates the stack from it."""

    def __init__(self, session: boto3.Session, endpoint: str, ca_file: Path, stack_name: str) -> None:
        self.endpoint = endpoint
        self.s3 = session.client("s3", endpoint_url=endpoint, verify=str(ca_file))
        self.cloudformation = session.client("cloudformation", endpoint_url=endpoint, verify=str(ca_file))
        self.stack_name = stack_name
        self.bucket = f"edl-artefacts-{uuid.uuid4().hex[:12]}"
        self.parameters: dict[str, str] = {}

    def upload(self, key_prefix: str, data: bytes) -> tuple[str, str]:
        """Stores a blob under its digest, as `sam package` does."""
        key = f"{key_prefix}-{hashlib.sha256(data).hexdigest()[:16]}"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return self.bucket, key

    def package(self, template: dict[str, Any], architecture: str, zips: dict[str, Path]) -> dict[str, Any]:
        """Uploads each function's zip (`zips` maps a binary to its zip) and returns the packaged template."""
        self.s3.create_bucket(Bucket=self.bucket)
        code = {
            name: self.upload(f"{binary}.zip", zips[binary].read_bytes())
            for name, binary in functions(template).items()
        }
        return for_emulator(template, architecture, code)

    def create(self, template: dict[str, Any], parameters: dict[str, str], timeout: float = 300) -> Stack:
        """Creates the stack from the (large) template through a TemplateURL and waits for it."""
        self.parameters = dict(parameters)
        body = json.dumps(template).encode()
        bucket, key = self.upload("template.json", body)
        self.cloudformation.create_stack(
            StackName=self.stack_name,
            TemplateURL=f"https://s3.amazonaws.com/{bucket}/{key}",
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
            OnFailure="DO_NOTHING",
        )
        status = self.wait("CREATE_IN_PROGRESS", timeout)
        if status != "CREATE_COMPLETE":
            raise RuntimeError(f"stack {self.stack_name} ended {status}:\n{self.failures()}")
        described = self.cloudformation.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        resources = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for page in self.cloudformation.get_paginator("list_stack_resources").paginate(StackName=self.stack_name)
            for r in page["StackResourceSummaries"]
        }
        return Stack(self.stack_name, outputs, resources, template)

    def update(self, changes: dict[str, str], timeout: float = 300) -> None:
        """Deploys the same template again with some parameters changed (`sam deploy --parameter-overrides`)."""
        self.parameters.update(changes)
        self.cloudformation.update_stack(
            StackName=self.stack_name,
            UsePreviousTemplate=True,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        deadline = time.monotonic() + timeout
        status = "UPDATE_IN_PROGRESS"
        while status.endswith("_IN_PROGRESS") and time.monotonic() < deadline:
            time.sleep(1)
            status = self.cloudformation.describe_stacks(StackName=self.stack_name)["Stacks"][0]["StackStatus"]
        if status != "UPDATE_COMPLETE":
            raise RuntimeError(f"the update of stack {self.stack_name} ended {status}:\n{self.failures()}")

    def wait(self, in_progress: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            status = self.cloudformation.describe_stacks(StackName=self.stack_name)["Stacks"][0]["StackStatus"]
            if status != in_progress or time.monotonic() > deadline:
                return status
            time.sleep(1)

    def failures(self) -> str:
        events = self.cloudformation.describe_stack_events(StackName=self.stack_name)["StackEvents"]
        return "\n".join(
            f"  {e['LogicalResourceId']} ({e['ResourceType']}): {e['ResourceStatus']} "
            f"{e.get('ResourceStatusReason', '')}"
            for e in reversed(events)
            if e["ResourceStatus"].endswith("FAILED")
        )

    def delete(self, timeout: float = 300) -> str:
        self.cloudformation.delete_stack(StackName=self.stack_name)
        try:
            return self.wait("DELETE_IN_PROGRESS", timeout)
        except self.cloudformation.exceptions.ClientError as e:
            # A deleted stack is no longer described by its name.
            if "does not exist" in str(e):
                return "DELETE_COMPLETE"
            raise


def route_functions(template: dict[str, Any]) -> dict[str, str]:
    """Each HTTP API route key (`POST /applications`) and the logical id of the function it invokes."""
    resources = template["Resources"]
    routes = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::ApiGatewayV2::Route":
            continue
        integration = resource["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        function = FUNCTION_ARN.search(json.dumps(resources[integration]["Properties"]["IntegrationUri"]))
        if function is not None:
            routes[resource["Properties"]["RouteKey"]] = function.group(1)
    return routes
