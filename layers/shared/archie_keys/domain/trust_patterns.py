"""The pattern language of trust policies, and what it takes for a subject pattern to pin someone.

A pattern is literal text with two wildcards:
  `*`   any run of characters (none included) within one segment: it never crosses `/` or `:`;
  `**`  any run of characters (none included), across segments.
Nothing else is special (no `?`, no classes, no escapes), matching is case-sensitive and whole-value. So
`repo:acme/billing:ref:refs/heads/*` matches `...refs/heads/main` but not `...refs/heads/feature/x`, and
`repo:acme/billing:**` matches every token of that one repository. This is the shape of GitHub's own branch
filters, and `:` is the separator of GitHub's and GitLab's subjects, so `*` cannot slide from one field of a
subject into the next (`repo:acme/*` does not reach `repo:acme/billing:ref:...`).

Matching is a linear pass per pattern part (no backtracking regex), so a hostile pattern and value of the
longest allowed sizes cost microseconds, not minutes.

A subject pattern pins (names whom a policy trusts) when it is exact, or when it pins a whole repository or
project under a scheme we know: GitHub's `repo:<owner>/<repository>` and GitLab's `project_path:<group>/
<project>` (subgroups included), with no wildcard in those names. Any other wildcard subject is refused: for
an issuer whose subjects we do not know, no pattern can be shown to stop short of every subject it issues.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archie_keys.domain.limits import TRUST_PATTERN_MAX_LENGTH, TRUST_PATTERN_MAX_WILDCARDS

SEGMENT_SEPARATORS = frozenset("/:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_PARTS = re.compile(r"\*\*|\*|[^*]+")
# GitHub: repo:<owner>/<repository>, then `:` and the rest (ref, environment, pull_request...) or nothing.
_GITHUB_REPOSITORY = re.compile(r"repo:[^*/:]+/[^*/:]+(?::|\Z)")
# GitLab: project_path:<group>[/<subgroup>...]/<project>, then `:` and the rest, or nothing.
_GITLAB_PROJECT = re.compile(r"project_path:[^*/:]+(?:/[^*/:]+)+(?::|\Z)")


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern: its text, and its parts (literal strings, "*" and "**")."""

    text: str
    parts: tuple[str, ...]

    @property
    def is_exact(self) -> bool:
        return "*" not in self.text

    @property
    def literal_length(self) -> int:
        """How much of the pattern is literal: the more, the more specific (a tie-break between policies)."""
        return sum(len(part) for part in self.parts if part not in ("*", "**"))

    def matches(self, value: str) -> bool:
        # The set of positions of `value` reachable after each part, kept as a sorted list of booleans.
        reachable = [False] * (len(value) + 1)
        reachable[0] = True
        for part in self.parts:
            following = [False] * (len(value) + 1)
            if part == "**":
                first = reachable.index(True) if True in reachable else len(following)
                for position in range(first, len(following)):
                    following[position] = True
            elif part == "*":
                for position in range(len(following)):
                    following[position] = reachable[position] or (
                        position > 0 and following[position - 1] and value[position - 1] not in SEGMENT_SEPARATORS
                    )
            else:
                for position, here in enumerate(reachable):
                    if here and value.startswith(part, position):
                        following[position + len(part)] = True
            reachable = following
            if True not in reachable:
                return False
        return reachable[len(value)]


def compile_pattern(text: object) -> Pattern:
    """A Pattern, or ValueError saying what is wrong with `text`."""
    if not isinstance(text, str) or not text:
        raise ValueError("a pattern is a non-empty string")
    if len(text) > TRUST_PATTERN_MAX_LENGTH:
        raise ValueError(f"a pattern has at most {TRUST_PATTERN_MAX_LENGTH} characters")
    if _CONTROL.search(text):
        raise ValueError("a pattern holds no control characters")
    if "***" in text:
        raise ValueError("'*' matches within a segment and '**' across segments; '***' means nothing")
    parts = tuple(_PARTS.findall(text))
    if sum(part in ("*", "**") for part in parts) > TRUST_PATTERN_MAX_WILDCARDS:
        raise ValueError(f"a pattern has at most {TRUST_PATTERN_MAX_WILDCARDS} wildcards")
    return Pattern(text, parts)


def subject_pin_problem(pattern: Pattern) -> str | None:
    """Why a subject pattern does not pin a repository, a project or one subject; None when it does."""
    if pattern.is_exact:
        return None
    if _GITHUB_REPOSITORY.match(pattern.text) or _GITLAB_PROJECT.match(pattern.text):
        return None
    return (
        "a subject with wildcards must name a whole repository or project without wildcards in it "
        "(repo:<owner>/<repository>:... for GitHub, project_path:<group>/<project>:... for GitLab); "
        "for any other issuer give the exact subject"
    )
