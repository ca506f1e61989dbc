"""The secrets the decision path reads from Secrets Manager: the pepper's versions and the key tag secret.

Both are read on the decision path's client (it gives up within about two seconds, aws.clients), and neither
is cached here: app.services.HasherProvider and app.key_tags.TagKeyProvider cache what they read, so a
rotation is picked up without a redeploy and a failed re-read keeps the last good value for a bounded time.
"""

from __future__ import annotations

from typing import Any


class PepperSecret:
    """app.ports.PepperSource on Secrets Manager: one version of the pepper (the current one for None) and
    its version id."""

    def __init__(self, client: Any, secret_id: str) -> None:
        self.client = client
        self.secret_id = secret_id

    def __call__(self, version: str | None) -> tuple[bytes, str]:
        request = {"SecretId": self.secret_id}
        request.update({"VersionId": version} if version else {"VersionStage": "AWSCURRENT"})
        secret = self.client.get_secret_value(**request)
        # A binary secret is the pepper as is; a string one (what `make run` creates) is its UTF-8 bytes.
        value = secret.get("SecretBinary") or str(secret["SecretString"]).encode("utf-8")
        return value, str(secret["VersionId"])


class TagKeySecret:
    """The key tag secret's JSON, as stored (app.key_tags parses it)."""

    def __init__(self, client: Any, secret_id: str) -> None:
        self.client = client
        self.secret_id = secret_id

    def __call__(self) -> str:
        return str(self.client.get_secret_value(SecretId=self.secret_id)["SecretString"])
