"""The local stack: archie-keys on one machine, from template.yaml, with the real handlers."""
