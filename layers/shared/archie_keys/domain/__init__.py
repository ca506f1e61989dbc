"""Pure rules with no I/O and no AWS: what a key looks like, how its secret is hashed, what its roles grant,
what a caller may do, and the IAM policy the authorizer answers with."""
