"""`make load`: the local sample API driven through the local gateway at a fixed rate for a fixed time.

Many keys with Zipf popularity, some forged, some malformed, some revoked mid-run through the management API;
every answer checked against its key's state, every request's audit record counted once the audit has caught
up, and what limited the rate measured. Modules: `plan` (what is sent, from the seed), `keys` (forged and
malformed values), `client` (the process that sends), `verdict` (what each answer should have been),
`audit` (records per request), `measure` (what limited the rate), `runner` (one run)."""
