"""Runs the SAM transform on template.yaml offline (no AWS credentials) and lints the result.

Usage: sam_transform.py template.yaml OUT.json
The transformed CloudFormation is written to OUT.json for the policy checks in tests.
"""
import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The transform asks AWS for managed policy ARNs; the template uses none."""

    def load(self):
        return {}


def main() -> int:
    source, target = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            # What `sam package` does: the code is uploaded and referenced from S3.
            resource["Properties"]["CodeUri"] = "s3://edl-artifacts/code.zip"
    transformed = transform(template, {}, NoManagedPolicies())
    with open(target, "w", encoding="utf-8") as f:
        json.dump(transformed, f, indent=1)
    print(f"SAM transform: {len(transformed.get('Resources', {}))} CloudFormation resources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
