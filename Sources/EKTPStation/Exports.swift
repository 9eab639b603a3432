// The HTTP client is its own module (the registry's `import --registry` uses it too); whoever
// imports EKTPStation gets it with the daemon.
@_exported import EKTPHTTPClient
