// The rules the server enforces, checked in the browser too so a person hears about a mistake as they type.
// Every rule lives here and only here. Each `export const` below is a literal copy of the server's constant
// of the same name (archie_keys limits), and tests/logic/test_dashboard_rules.py fails when the two differ,
// so keep them literals: no arithmetic, no building one from another.

// Project and environment names travel inside every key.
export const SLUG_PATTERN = /^[a-z0-9]{1,24}$/;
// 1 to 16 characters ending in "_", so the prefix stays visibly apart from the rest of the key.
export const PREFIX_PATTERN = /^[a-z0-9_]{0,15}_$/;
export const DEFAULT_PREFIX = "archie_";
export const ROLE_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
export const RESOURCE_PATTERN = /^(\*|[a-z0-9][a-z0-9_-]{0,63})$/;
export const FILTER_FIELD_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const CONTEXT_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

export const KEY_NAME_MAX_LENGTH = 128;
// Not yet a constant of the server's limits (an inline pattern of its request model): no control characters.
export const KEY_NAME_PATTERN = /^[^\x00-\x1f\x7f-\x9f\u2028\u2029]+$/;
export const ROLE_DESCRIPTION_MAX_LENGTH = 512;
export const CONTEXT_MAX_PAIRS = 16;
export const CONTEXT_VALUE_MAX_LENGTH = 256;
export const FILTER_LITERAL_MAX_LENGTH = 256;
export const FILTERS_MAX_FIELDS = 8;
export const ROLES_PER_KEY_MAX = 10;
export const PERMISSIONS_PER_ROLE_MAX = 20;
export const EXPIRES_AT_MAX_DAYS = 1830;
export const LIST_LIMIT_MAX = 100;
export const WEBHOOK_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
export const WEBHOOK_URL_MAX_LENGTH = 2048;

// Secrets Manager names the service may write (the template's SECRET_NAME_PREFIX), and the characters it
// accepts in one (the server's secret delivery check; 512 is Secrets Manager's own limit).
export const SECRET_NAME_ROOT = "archie/keys/";
export const SECRET_NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

// ---- checks: each answers "" when the value is fine, else what to fix, in words for a person ----

export function checkPrefix(value) {
  return PREFIX_PATTERN.test(value) ? "" : "Use 1 to 16 lowercase letters, digits or _, and end with _.";
}

export function checkKeyName(value) {
  if (!value) return "Give the key a name.";
  if (value.length > KEY_NAME_MAX_LENGTH) return `Use at most ${KEY_NAME_MAX_LENGTH} characters.`;
  if (!KEY_NAME_PATTERN.test(value)) return "A name cannot contain control characters (tabs, line breaks).";
  return "";
}

export function checkRoleName(value) {
  if (!value) return "Give the role a name.";
  return ROLE_NAME_PATTERN.test(value)
    ? ""
    : "Use 1 to 64 lowercase letters, digits, _ . or -, starting with a letter or digit.";
}

export function checkRoleCount(count) {
  if (!count) return "Choose at least one role.";
  return count > ROLES_PER_KEY_MAX ? `A key holds at most ${ROLES_PER_KEY_MAX} roles.` : "";
}

// pairs: [[name, value], ...] as typed (names already trimmed).
export function checkContext(pairs) {
  const seen = new Set();
  for (const [name, value] of pairs) {
    if (!name) return "Every context value needs a key.";
    if (!CONTEXT_NAME_PATTERN.test(name)) {
      return `Context key “${name}”: use up to 64 letters, digits, _ . or -, starting with a letter or _.`;
    }
    if (seen.has(name)) return `Context key “${name}” appears twice.`;
    seen.add(name);
    if (value.length > CONTEXT_VALUE_MAX_LENGTH) {
      return `Context “${name}”: values are at most ${CONTEXT_VALUE_MAX_LENGTH} characters.`;
    }
  }
  return pairs.length > CONTEXT_MAX_PAIRS ? `A key holds at most ${CONTEXT_MAX_PAIRS} context values.` : "";
}

// needed: {contextName: [role names that read it]} for the ticked roles; a needed name left empty would
// give the key a filter that matches only empty values, which is never what a person meant.
export function checkNeededContext(pairs, needed) {
  for (const [name, value] of pairs) {
    if (needed[name] && !value) return `Context “${name}” needs a value: role ${needed[name].join(", ")} reads it.`;
  }
  return "";
}

// expires: a Date, or null for a key that never expires. The server also refuses times closer than its
// minimum lifetime (a setting, 60 s by default) and says so next to this field.
export function checkExpiresAt(expires, now = new Date()) {
  if (expires === null) return "";
  if (Number.isNaN(expires.getTime())) return "Enter a date and a time.";
  if (expires <= now) return "Choose a time in the future.";
  if (expires - now > EXPIRES_AT_MAX_DAYS * 86400e3) return `Choose a time within ${EXPIRES_AT_MAX_DAYS} days.`;
  return "";
}

// Each environment's keys go under their own folder, so one environment's keys cannot overwrite another's.
export const secretNameRoot = (project, environment) => `${SECRET_NAME_ROOT}${project}/${environment}/`;

export function checkSecretName(name, project, environment) {
  if (!name) return "";
  const root = secretNameRoot(project, environment);
  if (!name.startsWith(root) || name.length === root.length) return `Use a name under ${root}, such as ${root}billing-ci.`;
  if (!SECRET_NAME_PATTERN.test(name) || name.includes("..")) {
    return "Use at most 512 letters, digits and / _ + = . @ - (and no “..”).";
  }
  return "";
}
