package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newConfigCommand() *cobra.Command {
	parent := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	var flags configFlags
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration without serving, listing every problem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "configuration is valid: %d app(s), listening on %s:%d\n", len(cfg.Apps), cfg.Host, cfg.Port)
			for _, a := range cfg.Apps {
				fmt.Fprintf(out, "  app %s (key %s)\n", a.ID, a.Key)
			}
			return nil
		},
	}
	flags.register(check.Flags())
	parent.AddCommand(check)
	return parent
}
