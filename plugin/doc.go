// Package plugin is the backup plugin: it implements shared.Backups by
// building and reading archives (package archive) in storage (package
// storage), and serves it to the host over go-plugin's gRPC transport.
//
// A third-party storage plugin reuses everything here and brings only its
// own storage.Opener:
//
//	func main() { plugin.Serve(plugin.Config{Open: mystore.Open}) }
package plugin
