package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/veltrix/veltrix/internal/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Validate, explain and diagnose the configuration (validate, explain, doctor)",
		Example: `  veltrix config validate --config my.yaml
  veltrix config explain --changed --config my.yaml
  veltrix config doctor --config my.yaml --brokers 127.0.0.1:9092`,
	}
	validate := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration and report every problem, without connecting anywhere",
		Long: `validate loads the configuration exactly as the other commands do — defaults,
the --config file, VELTRIX_* environment variables and flags — and reports
every problem at once: the key, the bad value, where it came from and what is
allowed. It exits 0 when the configuration is valid and 2 when it is not.`,
		Example: `  veltrix config validate --config configs/default.yaml
  VELTRIX_PROCESSOR_COMMIT_MODE=batch veltrix config validate`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := loadConfig(cmd); err != nil {
				return err
			}
			file, _ := cmd.Flags().GetString("config")
			if file == "" {
				file = "built-in defaults"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "configuration is valid (%s, environment, flags)\n", file)
			return nil
		},
	}
	config.AddFlags(validate.Flags(), allPrefixes)
	cmd.AddCommand(validate, newExplain(), newDoctor())
	return cmd
}

// allPrefixes selects every setting.
var allPrefixes = config.Sections()
