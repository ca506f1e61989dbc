"""The edge between Lambda and the use cases: HTTP resolver set-up and error mapping, the authorizer entry,
configuration, and the composition root."""
