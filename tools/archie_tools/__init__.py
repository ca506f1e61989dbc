"""Operator tools that run from a workstation against a deployed stack (never inside Lambda)."""
