// Where the OpenAPI document is served. Apart from openapi.ts so that the router can name the route
// without loading the document's module: that module (the schemas of every operation) is loaded with
// the first request for the document, not at start.
export const OPENAPI_PATH = '/api/v1/openapi.json';
