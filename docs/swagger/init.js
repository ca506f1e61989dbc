// Swagger UI for the management API's OpenAPI document, served beside it (no CDN, no inline script: the
// site's Content-Security-Policy allows scripts from 'self' only). "Authorize" takes a key as a bearer token.
window.ui = SwaggerUIBundle({
  url: new URL("../openapi.json", window.location.href).href,
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
});
