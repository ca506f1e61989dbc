"""The shell examples of the README and of every docs page work on any port and define what they use: a reader
who pasted `make run`'s export lines can run them as written (tests/doc_examples.py has the convention)."""

from __future__ import annotations

import pytest

from tests.doc_examples import ROOT, SHELL_LANGUAGES, examples, hard_coded_ports, undefined_variables

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_shell_example_sets_each_variable_it_reads_before_it_reads_it(page) -> None:
    assert undefined_variables(examples(page, SHELL_LANGUAGES)) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_no_shell_example_hard_codes_the_local_stacks_ports(page) -> None:
    assert hard_coded_ports(examples(page, SHELL_LANGUAGES)) == []


def test_the_readme_has_examples_that_run_and_the_checks_see_a_variable_set_too_late() -> None:
    runnable = examples(ROOT / "README.md", ("sh",))
    assert len(runnable) >= 2 and all("$API" in example.code for example in runnable[:2])
    late = examples(ROOT / "README.md", ("sh",))[1]
    swapped = type(late)(late.path, late.line, late.language, late.code.replace("$AUTH", "$UNSET_AUTH"))
    assert undefined_variables([swapped]) != []
