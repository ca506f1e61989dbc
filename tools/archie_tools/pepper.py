"""`python -m archie_tools.pepper status|rotate|retire --stack-name S`: rotating the pepper with no key lost.

Every stored hash records the pepper version (the secret's VersionId) it was made with. Rotating:

    status   the pepper's versions, their labels, and how many keys each still needs
    rotate   records the current version on keys made before versions were recorded, writes a new random
             pepper as AWSCURRENT, and keeps the old version readable with a label of its own (KEEP-<id>),
             so keys hashed with it still verify; the functions pick the new version up within
             PEPPER_MAX_AGE_SECONDS, and each old key is rehashed with it on its next successful use
    retire   drops the KEEP- label of every old version no key needs any more (Secrets Manager then deprecates
             it); a version some key still needs is kept, and named

Against the local stack, set AWS_ENDPOINT_URL to its moto server and KEYS_TABLE / PEPPER_SECRET_ID instead of
--stack-name (docs/operations.md: Rotating the pepper).
"""

from __future__ import annotations

import argparse
import os
import secrets
import string
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

KEEP_PREFIX = "KEEP-"
UNRECORDED = "(unrecorded)"
PEPPER_LENGTH = 64


@dataclass
class PepperAdmin:
    secretsmanager: Any
    dynamodb: Any
    secret_id: str
    keys_table: str

    def versions(self) -> dict[str, list[str]]:
        """Version id -> its staging labels."""
        return dict(self.secretsmanager.describe_secret(SecretId=self.secret_id).get("VersionIdsToStages", {}))

    def current(self) -> str:
        return str(
            self.secretsmanager.get_secret_value(SecretId=self.secret_id, VersionStage="AWSCURRENT")["VersionId"]
        )

    def _keys(self) -> list[dict[str, Any]]:
        """Each key's item that holds its hash's pepper version: its hash item, or (a key hashed before keys
        had hash items, archie_keys.aws.key_items) its key item. A full scan: an operator's command, never a
        request path."""
        items, request = (
            [],
            {
                "TableName": self.keys_table,
                "FilterExpression": "kind = :key OR #part = :hash AND attribute_exists(#hash)",
                "ExpressionAttributeNames": {"#part": "part", "#hash": "hash"},
                "ExpressionAttributeValues": {":key": {"S": "key"}, ":hash": {"S": "HASH"}},
                "ProjectionExpression": "pk, sk, pepper_version, #part",
            },
        )
        while True:
            page = self.dynamodb.scan(**request)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        holders: dict[tuple[str, str], dict[str, Any]] = {}
        for item in items:
            key = (item["pk"]["S"], item["sk"]["S"].removesuffix("#HASH"))
            if "part" in item or key not in holders:
                holders[key] = {name: value for name, value in item.items() if name != "part"}
        return list(holders.values())

    def usage(self) -> Counter[str]:
        """Pepper version -> how many keys (revoked ones included, until purged) were hashed with it."""
        return Counter(item.get("pepper_version", {}).get("S", UNRECORDED) for item in self._keys())

    def backfill(self) -> int:
        """Record the current version on keys hashed before versions were recorded (it is the one they used:
        there was no other). Returns how many keys it marked."""
        current, marked = self.current(), 0
        for item in self._keys():
            if "pepper_version" in item:
                continue
            try:
                self.dynamodb.update_item(
                    TableName=self.keys_table,
                    Key={"pk": item["pk"], "sk": item["sk"]},
                    UpdateExpression="SET pepper_version = :v",
                    ConditionExpression="attribute_not_exists(pepper_version)",
                    ExpressionAttributeValues={":v": {"S": current}},
                )
                marked += 1
            except self.dynamodb.exceptions.ConditionalCheckFailedException:
                continue  # rehashed meanwhile: it records its version already
        return marked

    def rotate(self) -> str:
        """A new pepper version as AWSCURRENT; the previous one kept readable. Returns the new version id."""
        self.backfill()
        previous = self.current()
        alphabet = string.ascii_letters + string.digits
        pepper = "".join(secrets.choice(alphabet) for _ in range(PEPPER_LENGTH))
        new = str(self.secretsmanager.put_secret_value(SecretId=self.secret_id, SecretString=pepper)["VersionId"])
        self.secretsmanager.update_secret_version_stage(
            SecretId=self.secret_id, VersionStage=KEEP_PREFIX + previous, MoveToVersionId=previous
        )
        return new

    def retire(self) -> tuple[list[str], list[str]]:
        """Drop the keep-label of old versions no key needs. Returns (retired, still needed)."""
        needed = self.usage()
        current = self.current()
        retired, kept = [], []
        for version, labels in self.versions().items():
            keep = [label for label in labels if label.startswith(KEEP_PREFIX)]
            if not keep or version == current:
                continue
            if needed.get(version, 0) > 0:
                kept.append(version)
                continue
            for label in keep:
                self.secretsmanager.update_secret_version_stage(
                    SecretId=self.secret_id, VersionStage=label, RemoveFromVersionId=version
                )
            retired.append(version)
        return retired, kept


def _admin(stack_name: str | None) -> PepperAdmin:
    import boto3

    if stack_name:
        outputs = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0].get("Outputs", [])
        values = {o["OutputKey"]: o["OutputValue"] for o in outputs}
        secret_id, table = values["PepperSecretArn"], values["KeysTableName"]
    else:
        secret_id, table = os.environ["PEPPER_SECRET_ID"], os.environ["KEYS_TABLE"]
    return PepperAdmin(boto3.client("secretsmanager"), boto3.client("dynamodb"), secret_id, table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m archie_tools.pepper")
    parser.add_argument("command", choices=["status", "rotate", "retire"])
    parser.add_argument("--stack-name", help="read the secret and table from this stack's outputs")
    args = parser.parse_args(argv)
    admin = _admin(args.stack_name)
    if args.command == "rotate":
        print(f"new pepper version {admin.rotate()}; functions use it within PEPPER_MAX_AGE_SECONDS")
    elif args.command == "retire":
        retired, kept = admin.retire()
        print(f"retired: {', '.join(retired) or 'none'}; still needed by keys: {', '.join(kept) or 'none'}")
    usage, current = admin.usage(), admin.current()
    for version, labels in sorted(admin.versions().items(), key=lambda item: item[0] != current):
        print(f"{version}  {','.join(sorted(labels)):<40}  keys: {usage.get(version, 0)}")
    if usage.get(UNRECORDED):
        print(f"keys hashed before versions were recorded: {usage[UNRECORDED]} (rotate records them first)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
