"""The static site served beside the management API: the dashboard, the OpenAPI document and Swagger UI.

One map from URL path to file, used by the local gateway (`make run` serves it at the API's root) and by the
deployer (tools/archie_tools/deploy_dashboard.py uploads the same files to the stack's CloudFront site):

    /                   dashboard/ (index.html, js/, styles.css, favicon.svg, config.js)
    /openapi.json       docs/openapi.json, generated from the code (`make openapi`)
    /docs/              docs/swagger/ (the page and its init script)
    /docs/vendor/       Swagger UI's own files, from the pinned flask-swagger-ui package (never a CDN)
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from archie_local.template import REPO_ROOT

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
