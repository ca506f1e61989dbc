// Where the management API is. Empty: the same origin that serves this page (the local stack serves both).
// A deployed static site sets this to the stack's ApiUrl output, for example
//   window.ARCHIE_CONFIG = { apiUrl: "https://abc123.execute-api.eu-west-1.amazonaws.com/v1" };
window.ARCHIE_CONFIG = { apiUrl: "" };
