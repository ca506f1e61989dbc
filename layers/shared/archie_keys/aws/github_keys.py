"""Where GitHub's secret scanning public keys come from: SECRET_SCANNING_PUBLIC_KEYS when set (what `make run`
uses), else the SSM parameter the deployment keeps current (read through Powertools' parameter cache, five
minutes, so a warm function does not call SSM for every alert). Returns the JSON as stored:
edge.github_signatures parses it and checks signatures with it."""

from __future__ import annotations

# GitHub rotates its keys rarely and announces it; five minutes bounds how long a retired key is trusted.
PARAMETER_MAX_AGE_SECONDS = 300


class GitHubScanningKeys:
    def __init__(self, configured: str, parameter: str) -> None:
        self.configured = configured
        self.parameter = parameter

    def __call__(self) -> str:
        if self.configured or not self.parameter:
            return self.configured
        from aws_lambda_powertools.utilities import parameters

        return str(parameters.get_parameter(self.parameter, max_age=PARAMETER_MAX_AGE_SECONDS))
