"""The name a webhook delivery carries for its webhook, `<project>/<environment>/<name>`: what the delivery
queue's messages, the delivery records and the redrive name a webhook by. Pure."""

from __future__ import annotations


def webhook_path(project: str, environment: str, name: str) -> str:
    return f"{project}/{environment}/{name}"


def split_webhook_path(path: str) -> tuple[str, str, str]:
    """The project, environment and name of a path (a webhook's name may hold no slash; the others may not)."""
    project, environment, name = path.split("/", 2)
    return project, environment, name
