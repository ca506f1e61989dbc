"""The offline SAM translation of template.yaml (no AWS credentials), shared by the infrastructure tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from archie_local.template import load_template
from tests.infrastructure.deployments import DEPLOYMENTS, deployed


class NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs; every policy here is inline, so nothing to load."""

    def load(self) -> dict[str, str]:
        return {}


def packaged(template: dict[str, Any]) -> dict[str, Any]:
    """What `sam package` does before the transform: local code folders become S3 artifact URIs."""
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for field in ("CodeUri", "ContentUri"):
            if isinstance(props.get(field), str):
                props[field] = f"s3://artifacts/{props[field].strip('/')}.zip"
    return template


@pytest.fixture(scope="module")
def cloudformation() -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # the translator wants a region; it calls no AWS API
        yield transform(
            packaged(load_template()), {"AWS::Region": "eu-west-1", "AWS::Partition": "aws"}, NoManagedPolicies()
        )


@pytest.fixture(scope="module", params=list(DEPLOYMENTS))
def shape(request: pytest.FixtureRequest) -> str:
    """Each shape of stack (tests/infrastructure/deployments.py): one region, the primary of two, the second."""
    return str(request.param)


@pytest.fixture(scope="module")
def deployment(shape: str, cloudformation: dict[str, Any]) -> dict[str, Any]:
    """The translated template as a stack of that shape deploys it."""
    return deployed(cloudformation, shape)
