// Swagger UI for the management API's OpenAPI document, served beside it (no CDN, no inline script: the
// site's Content-Security-Policy allows scripts from 'self' only). "Authorize" takes a key as a bearer token.
// "Try it out" goes to the API this page belongs to (the dashboard's config.js: the same origin locally, the
// stack's ApiUrl on AWS), listed first; the document's own servers (as served: that same stack) follow unless
// they are the same.
fetch(new URL("../openapi.json", window.location.href))
  .then((answer) => answer.json())
  .then((spec) => {
    const configured = (window.ARCHIE_CONFIG && window.ARCHIE_CONFIG.apiUrl) || window.location.origin;
    const others = (spec.servers || []).filter((server) => server.url !== configured);
    spec.servers = [{ url: configured, description: "this stack" }, ...others];
    window.ui = SwaggerUIBundle({ spec, dom_id: "#swagger-ui", deepLinking: true, persistAuthorization: false });
  });
