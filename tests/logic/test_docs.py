"""The documentation a newcomer reads: a short README that leads to every page, pages that each stand on their
own, links that land, and the facts the pages state held to the code. (`make docs` builds the site strictly and
checks the links between pages; these checks cover what MkDocs does not see: the README, which lives outside
docs/, and what the pages say.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

from archie_local.template import REPO_ROOT, load_template

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """The text outside fenced blocks (a `#` line in a block is code, not a heading; a `[x](y)` is not a link)."""
    kept, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return "\n".join(kept)


def anchors(page: Path) -> set[str]:
    return {slugify(heading, "-") for heading in re.findall(r"^#+ (.+)$", prose(page.read_text()), re.MULTILINE)}


def links(page: Path) -> list[str]:
    return [a or b for a, b in LINK.findall(prose(page.read_text()))]


def test_the_readme_is_short_and_leads_to_the_dashboard_the_authorizer_guide_and_the_deploy_steps_early() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 300
    first_screenful = "\n".join(lines[:50])
    for target in ("#the-dashboard", "#protecting-your-own-api", "#deploying-to-aws"):
        assert f"]({target})" in first_screenful, target


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_lands_on_a_file_and_a_heading_that_exist(page: Path) -> None:
    for link in links(page):
        if re.match(r"[a-z]+:", link):  # https:, mailto:
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.name}: {link}"
        if anchor and target.suffix == ".md":
            assert anchor in anchors(target), f"{page.name}: {link}"


def test_the_readme_maps_every_page_of_the_site() -> None:
    mapped = {(README.parent / link).resolve() for link in links(README) if link.startswith("docs/")}
    site_pages = {page.resolve() for page in PAGES if page.parent == DOCS and page.name != "index.md"}
    assert site_pages - mapped == set()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_page_has_a_title_and_says_what_it_is_for(page: Path) -> None:
    title, blank, first = [*page.read_text().splitlines(), "", ""][:3]
    assert title.startswith("# ") and blank == "", page.name
    assert first and not first.startswith(("#", "```", "|", "- ", "* ", "1. ", "!")), page.name  # a paragraph


@pytest.mark.parametrize("page", ["cost.md", "performance.md", "mutation.md"])
def test_each_page_of_measured_figures_says_when_they_were_measured(page: str) -> None:
    assert re.search(r"\b20\d\d-\d\d-\d\d\b", (DOCS / page).read_text()), page


def test_the_access_log_fields_the_authorizer_guide_lists_are_the_templates() -> None:
    guide = (DOCS / "authorizer.md").read_text()
    table = guide[guide.index("## The access-log format") :].split("\n## ", 1)[0]
    listed = {
        field
        for cell in re.findall(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \|", table, re.MULTILINE)
        for field in re.findall(r"`([a-z_]+)`", cell)
    }
    resources = load_template()["Resources"]
    for api in ("SampleApi", "ManagementApi"):
        fmt = resources[api]["Properties"]["AccessLogSetting"]["Format"]
        assert listed == set(json.loads(fmt)), api
