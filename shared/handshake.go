package shared

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/pocketbackup/pocketbackup/shared/proto"
)

// ProtocolVersion is the version of the wire contract in shared/proto.
// 2: OpenHeader.path (a local file the host reads itself, no chunks).
// Bump it on any incompatible change; host and plugin refuse a mismatch.
const ProtocolVersion = 2

// PluginName is the name the backups plugin is dispensed under.
const PluginName = "backups"

// ChunkSize is the size of the byte chunks streamed over gRPC.
const ChunkSize = 1 << 20

// MaxMessageSize is the gRPC receive limit on both sides: a chunk plus its
// framing fits with room to spare.
const MaxMessageSize = 8 << 20

// Handshake is the handshake both sides must agree on. It is not a security
// measure: it stops the plugin binary from being run by hand by mistake.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "POCKETBACKUP_PLUGIN",
	MagicCookieValue: "3f1c5b2e9a7d4c08b6e1f2a39d5c7e40",
}

// PluginMap returns the plugin set served by a plugin with impl, or used by
// the host with a nil impl.
func PluginMap(impl Backups) map[string]plugin.Plugin {
	return map[string]plugin.Plugin{PluginName: &BackupsPlugin{Impl: impl}}
}

// BackupsPlugin is the go-plugin glue for Backups, gRPC only.
type BackupsPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the implementation served by the plugin process.
	Impl Backups
}

var _ plugin.GRPCPlugin = (*BackupsPlugin)(nil)

// GRPCServer registers the implementation on the plugin's gRPC server.
func (p *BackupsPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterBackupsServer(s, &GRPCServer{Impl: p.Impl})
	return nil
}

// GRPCClient returns the host-side client.
func (p *BackupsPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return NewGRPCClient(c), nil
}
