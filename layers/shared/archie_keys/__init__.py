"""archie_keys: API keys scoped to a project and an environment, for AWS Lambda behind API Gateway.

The package is layered, and imports point one way only (down this list):

    edge/    the Lambda-facing edge: HTTP resolver and error mapping, the authorizer entry, settings, and the
             composition root that builds the collaborators once per process
    app/     use cases (keys, roles, environments, audit queries, verify, bootstrap, ingest); each takes a
             `Services` object and a typed command
    aws/     adapters to DynamoDB, Secrets Manager, Scheduler and API Gateway, each with its client injected
    domain/  pure rules with no I/O: key format, hashing, grants and filters, escalation, the IAM policy,
             the caller's identity, limits and errors

`functions/<name>/` holds one thin Lambda handler per operation, over `edge` and `app`.
"""
