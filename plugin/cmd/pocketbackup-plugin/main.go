// Command pocketbackup-plugin is the backup plugin binary: archives in
// storage named by gocloud-style URLs (file://, mem://, …). The host starts
// it; it is not meant to be run by hand.
package main

import "github.com/pocketbackup/pocketbackup/plugin"

func main() {
	plugin.Serve(plugin.Config{})
}
