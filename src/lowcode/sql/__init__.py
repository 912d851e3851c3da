"""SQL service: parse, validate and transpile through the Calcite-shaped gRPC peer."""
