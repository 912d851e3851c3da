"""Reference gRPC peers (`lowcode peers`): stand-ins for the JVM services the
API talks to, for development and tests.

An independent stack from the API's client on purpose: grpcio (`grpc.aio`)
servers over code generated into `lowcode_peers_gen` by the same pinned
`grpc_tools.protoc`, so the interop between the two is tested for real. This
package imports nothing from `lowcode`.
"""
