// Command pocketbase is PocketBase itself, unmodified, as the bench's
// baseline: the harness drives it through the same REST API (backups,
// records, health) as the project's own host, so each figure of the issue
// can be printed against PocketBase in the same run. It lives in its own
// module so the project never depends on PocketBase.
package main

import (
	"log"

	"github.com/pocketbase/pocketbase"
)

func main() {
	app := pocketbase.New()
	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
}
