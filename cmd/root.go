package cmd

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X .../cmd.Version=...".
var Version = "dev"

// Execute runs the command line and returns the process exit code.
func Execute() int {
	root := &cobra.Command{
		Use:           "quaver",
		Short:         "A Pusher-protocol WebSocket server for Laravel Echo, pusher-js and AI token streams",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newStartCommand(), newVersionCommand(), newConfigCommand(), newBenchCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "quaver:", err)
		var exit exitError
		if errors.As(err, &exit) {
			return int(exit)
		}
		return 1
	}
	return 0
}

// exitError carries a specific exit code out of a command.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "quaver", Version)
		},
	}
}
