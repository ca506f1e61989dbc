"""Adapters to AWS: one class per collaborator, each with its boto3 client injected (the composition root in
`edge.composition` creates the clients lazily)."""
