"""The dashboard checks in the browser the rules the server enforces, so a person hears about a bad prefix
as they type. Those rules are copies, kept in one module (dashboard/js/validation.js); these tests hold each
copy equal to the server's constant of the same name, so a bound changed on the server and not in the page
(or the other way round) fails here instead of confusing a user."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

try:  # the limits module is moving into archie_keys.domain; both homes work
    from archie_keys.domain import limits
except ImportError:
    from archie_keys import limits

REPO = Path(__file__).resolve().parents[2]
VALIDATION_JS = REPO / "dashboard" / "js" / "validation.js"
TEMPLATE = REPO / "template.yaml"

EXPORTED_CONSTANT = re.compile(r"^export const ([A-Z][A-Z0-9_]*) = (.+);$", re.MULTILINE)
REGEX_LITERAL = re.compile(r"^/(.+)/([a-z]*)$")

# Rules the server does not keep in limits (yet): where each one lives instead. If limits gains one of
# these names, test_each_rule_equals_the_servers_constant starts checking it too.
ELSEWHERE_ON_THE_SERVER = {
    "SECRET_NAME_ROOT": "SECRET_NAME_PREFIX in template.yaml (checked below)",
}

# The bounds a person can run into in the dashboard's forms: each must be checked in the page.
CHECKED_IN_THE_PAGE = {
    "SLUG_PATTERN",
    "PREFIX_PATTERN",
    "DEFAULT_PREFIX",
    "KEY_NAME_MAX_LENGTH",
    "ROLE_NAME_PATTERN",
    "CONTEXT_NAME_PATTERN",
    "CONTEXT_MAX_PAIRS",
    "CONTEXT_VALUE_MAX_LENGTH",
    "ROLES_PER_KEY_MAX",
    "EXPIRES_AT_MAX_DAYS",
    "LIST_LIMIT_MAX",
}


def dashboard_rules() -> dict[str, str | int]:
    """validation.js's `export const NAME = <literal>;` lines: a regex literal becomes its source text (as
    Python writes the same pattern), a number an int, a string a str."""
    rules: dict[str, str | int] = {}
    for name, literal in EXPORTED_CONSTANT.findall(VALIDATION_JS.read_text(encoding="utf-8")):
        regex = REGEX_LITERAL.match(literal)
        if regex:
            assert not regex.group(2), f"{name}: a flag ({regex.group(2)}) would make it differ from the server"
            rules[name] = regex.group(1)
        elif re.fullmatch(r"\d+", literal):
            rules[name] = int(literal)
        elif literal.startswith('"'):
            rules[name] = json.loads(literal)
        else:
            raise AssertionError(f"{name} = {literal}: keep each rule a literal so it can be compared")
    return rules


RULES = dashboard_rules()
SHARED_WITH_LIMITS = sorted(name for name in RULES if hasattr(limits, name))


def test_the_dashboard_checks_every_bound_a_person_can_hit_in_its_forms() -> None:
    assert sorted(CHECKED_IN_THE_PAGE - RULES.keys()) == []


def test_every_rule_of_the_dashboard_comes_from_the_server() -> None:
    unknown = RULES.keys() - ELSEWHERE_ON_THE_SERVER.keys() - set(SHARED_WITH_LIMITS)
    assert sorted(unknown) == [], "a rule in validation.js that the server's limits module does not have"


@pytest.mark.parametrize("name", SHARED_WITH_LIMITS)
def test_each_rule_equals_the_servers_constant(name: str) -> None:
    assert RULES[name] == getattr(limits, name)


def test_secret_names_are_offered_under_the_prefix_the_template_deploys() -> None:
    from archie_local.template import load_template

    template = load_template(TEMPLATE)
    assert template["Globals"]["Function"]["Environment"]["Variables"]["SECRET_NAME_PREFIX"] == {
        "Ref": "SecretNamePrefix"
    }
    assert template["Parameters"]["SecretNamePrefix"]["Default"] == RULES["SECRET_NAME_ROOT"]
