// Package shared is the versioned contract between the host and the backup
// plugin: the handshake, the plugin map, the Backups interface the host
// calls, the error kinds that cross the process boundary, and the gRPC glue
// (generated code in shared/proto, hand-written client and server here).
//
// It imports nothing else of this repository.
package shared
