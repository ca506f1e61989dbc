"""The static site served beside the management API: the dashboard, the OpenAPI document and Swagger UI.

One map from URL path to file, used by the local gateway (`make run` serves it at the API's root) and by the
deployer (tools/archie_tools/deploy_dashboard.py uploads the same files to the stack's CloudFront site):

    /                   dashboard/ (index.html, js/, styles.css, favicon.svg, config.js)
    /openapi.json       docs/openapi.json, generated from the code (`make openapi`), its `servers` naming the
                        stack that serves it (`served_openapi`)
    /docs/              docs/swagger/ (the page and its init script)
    /docs/vendor/       Swagger UI's own files, from the pinned flask-swagger-ui package (never a CDN)

Every answer of the site carries the headers CloudFront adds on AWS (`security_headers`: the template's
response headers policy of the distribution), so the local site runs under the same CSP as the deployed one.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from archie_local.template import REPO_ROOT, Resolver

DASHBOARD = REPO_ROOT / "dashboard"
OPENAPI_DOCUMENT = REPO_ROOT / "docs" / "openapi.json"
SWAGGER_PAGE = REPO_ROOT / "docs" / "swagger"
# Swagger UI's distribution files this site serves (the rest of the package's dist/ is not needed).
SWAGGER_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "VERSION")


def swagger_dist() -> Path:
    import flask_swagger_ui

    return Path(flask_swagger_ui.__file__).resolve().parent / "dist"


@lru_cache(maxsize=1)
def site_files() -> dict[str, Path]:
    """URL path (without the leading "/") -> file, for every file of the site."""
    files = {p.relative_to(DASHBOARD).as_posix(): p for p in sorted(DASHBOARD.rglob("*")) if p.is_file()}
    files["openapi.json"] = OPENAPI_DOCUMENT
    files.update({f"docs/{p.name}": p for p in sorted(SWAGGER_PAGE.iterdir()) if p.is_file()})
    files.update({f"docs/vendor/{name}": swagger_dist() / name for name in SWAGGER_ASSETS})
    return files


def site_file(path: str) -> Path | None:
    """The file behind a URL path of the site ("" and "docs/" are their folders' index.html)."""
    relative = path.lstrip("/")
    if relative in ("", "docs/"):
        relative += "index.html"
    return site_files().get(relative)


def served_openapi(api_url: str) -> bytes:
    """docs/openapi.json as a stack serves it: its `servers` name that stack's API (the committed document
    names the defaults, such as port 3000), so a client generated from it, or Swagger UI, calls the stack that
    served it."""
    document = json.loads(OPENAPI_DOCUMENT.read_text())
    document["servers"] = [{"url": api_url, "description": "this stack (the one serving this document)"}]
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


# The template's outputs that tell the dashboard how people sign in -> the name config.js gives each.
SIGN_IN_OUTPUTS = {
    "SignInIssuerUrl": "issuer",
    "SignInClientId": "clientId",
    "SignInAuthorizationEndpoint": "authorizationEndpoint",
    "SignInTokenEndpoint": "tokenEndpoint",
}


def sign_in_config(outputs: dict[str, str]) -> dict[str, str] | None:
    """The dashboard's "Sign in with SSO" settings from a stack's outputs; None when they are not all set."""
    config = {name: outputs.get(output, "") for output, name in SIGN_IN_OUTPUTS.items()}
    return config if all(config.values()) else None


def local_sign_in_config(template: dict[str, Any], resolver: Resolver) -> dict[str, str] | None:
    """The sign-in settings of the local stack, from the same outputs: set when it was given an issuer
    (SignInIssuer, the development issuer); None on the user pool's default, which runs on AWS only."""
    if resolver.condition("CognitoSignIn"):
        return None
    outputs = template["Outputs"]
    return sign_in_config({name: str(resolver.resolve(outputs[name]["Value"])) for name in SIGN_IN_OUTPUTS})


def dashboard_config(api_url: str, sign_in: dict[str, str] | None) -> bytes:
    """config.js as a stack serves it: where the API is ("" for the page's own origin) and how people sign in
    (none: the page offers API keys only)."""
    config: dict[str, Any] = {"apiUrl": api_url, **({"signIn": sign_in} if sign_in else {})}
    return f"window.ARCHIE_CONFIG = {json.dumps(config)};\n".encode()


def rendered_for(path: str, api_url: str, sign_in: dict[str, str] | None = None) -> bytes | None:
    """The body of a site file that names the API serving it (the OpenAPI document), or how people sign in
    to it (config.js, when `sign_in`), for that API; None for the files served as they are."""
    relative = path.lstrip("/")
    if relative == "openapi.json":
        return served_openapi(api_url)
    if relative == "config.js" and sign_in is not None:
        return dashboard_config("", sign_in)  # the page's own origin serves the API locally
    return None


# The distribution whose response headers policy the site's answers carry.
DISTRIBUTION = "DashboardDistribution"


def security_headers(template: dict[str, Any], resolver: Resolver) -> dict[str, str]:
    """The headers CloudFront adds to every answer of the site: the distribution's ResponseHeadersPolicy, each
    setting rendered as CloudFront renders it. The local files carry none of these headers, so Override
    changes nothing here. A setting not rendered here fails loudly: the local site never silently drops a
    header the deployed one sends.

    Strict-Transport-Security is sent as it is: a browser ignores it on plain HTTP (RFC 6797 section 8.1), so
    it is inert on 127.0.0.1, and the local answers stay exactly the deployed ones."""
    behavior = template["Resources"][DISTRIBUTION]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    reference = behavior.get("ResponseHeadersPolicyId")
    if reference is None:
        return {}
    policy = template["Resources"][reference["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"]
    config = dict(resolver.resolve({k: v for k, v in policy.items() if k not in ("Name", "Comment")}))
    headers = _security_settings(config.pop("SecurityHeadersConfig", {}))
    for item in config.pop("CustomHeadersConfig", {}).get("Items", []):
        headers[item["Header"]] = item["Value"]
    if config:
        raise ValueError(f"{reference['Ref']}: settings the local site does not send: {sorted(config)}")
    return headers


def _security_settings(config: dict[str, Any]) -> dict[str, str]:
    """CloudFront's SecurityHeadersConfig as headers (resolved values: booleans are "true" / "false")."""
    config = dict(config)
    headers: dict[str, str] = {}
    if (csp := config.pop("ContentSecurityPolicy", None)) is not None:
        headers["Content-Security-Policy"] = csp["ContentSecurityPolicy"]
    if (hsts := config.pop("StrictTransportSecurity", None)) is not None:
        value = f"max-age={hsts['AccessControlMaxAgeSec']}"
        value += "; includeSubDomains" if hsts.get("IncludeSubdomains") == "true" else ""
        value += "; preload" if hsts.get("Preload") == "true" else ""
        headers["Strict-Transport-Security"] = value
    if config.pop("ContentTypeOptions", None) is not None:
        headers["X-Content-Type-Options"] = "nosniff"
    if (frame := config.pop("FrameOptions", None)) is not None:
        headers["X-Frame-Options"] = frame["FrameOption"]
    if (referrer := config.pop("ReferrerPolicy", None)) is not None:
        headers["Referrer-Policy"] = referrer["ReferrerPolicy"]
    if (xss := config.pop("XSSProtection", None)) is not None:
        value = "1" if xss["Protection"] == "true" else "0"
        value += "; mode=block" if xss.get("ModeBlock") == "true" else ""
        value += f"; report={xss['ReportUri']}" if xss.get("ReportUri") else ""
        headers["X-XSS-Protection"] = value
    if config:
        raise ValueError(f"SecurityHeadersConfig settings the local site does not send: {sorted(config)}")
    return headers
