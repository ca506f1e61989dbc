"""`make mutate`: mutation testing (mutmut) of the modules that make security decisions. See docs/mutation.md."""
