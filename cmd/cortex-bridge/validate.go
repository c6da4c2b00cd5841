package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/samples"
)

func newValidate() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the config, its rules and templates (rendered against every sample event)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := configPath(cmd)
			rt, err := loadRuntime(path)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, w := range rt.Warnings {
				fmt.Fprintln(out, "warning:", w)
			}
			enabled := 0
			for _, t := range rt.Targets {
				if t.Disabled == "" {
					enabled++
				}
			}
			fmt.Fprintf(out, "%s is valid: %d targets (%d enabled), %d routes; templates render for all %d sample events\n",
				path, len(rt.Targets), enabled, len(rt.Router.Routes), len(samples.Types()))
			return nil
		},
	}
}

// loadRuntime loads and checks the config without opening anything (dry run).
func loadRuntime(path string) (*config.Runtime, error) {
	cfg, err := config.Load(path)
	if cfg == nil {
		return nil, fmt.Errorf("%s is invalid:\n%w", path, err)
	}
	// Build adds the template problems to Load's, so one run lists everything.
	rt, err := config.Build(cfg, config.BuildOptions{Version: version, DryRun: true})
	if err != nil {
		return nil, fmt.Errorf("%s is invalid:\n%w", path, err)
	}
	return rt, nil
}
