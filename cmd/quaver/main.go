// Command quaver is a Pusher-protocol WebSocket server; see the README.
package main

import (
	"os"

	"github.com/quaver-dev/quaver/cmd"
)

func main() {
	os.Exit(cmd.Execute())
}
