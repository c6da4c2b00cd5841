package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cortexbridge/cortex-bridge/config"
)

func newValidate() *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "validate [--format text|json]",
		Short: "Check the config, its rules and templates (rendered against every sample event)",
		Long: `Check the config file: keys, values, rules, digests and every template a route, target or
digest uses, rendered against every sample event, and what serve will open: file targets' and
the SQLite file's paths must be creatable (nothing is created), secret and TLS files readable.
Exit status 1 lists every problem with its key path and line. --format json prints {"valid", "warnings", "errors": [{"path","line","message"}]}
for CI pipelines that keep the config in git.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := configPath(cmd)
			rt, err := buildRuntime(path, config.BuildOptions{Version: version, DryRun: true, Preflight: true})
			switch format {
			case "text":
			case "json":
				return validateJSON(cmd, rt, err)
			default:
				return fmt.Errorf("--format: want text or json, got %q", format)
			}
			out := cmd.OutOrStdout()
			if err != nil {
				var be *config.BuildError
				if errors.As(err, &be) {
					for _, w := range be.Warnings {
						fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
					}
				}
				return err
			}
			for _, w := range rt.Warnings {
				fmt.Fprintln(out, "warning:", w)
			}
			enabled := 0
			for _, t := range rt.Targets {
				if t.Disabled == "" {
					enabled++
				}
			}
			count := func(n int, one, many string) string { return fmt.Sprintf("%d %s", n, plural(n, one, many)) }
			fmt.Fprintf(out, "%s is valid: %s (%d enabled), %s, %s; templates render for every sample event\n",
				path, count(len(rt.Targets), "target", "targets"), enabled, count(len(rt.Router.Routes), "route", "routes"),
				count(len(rt.Router.Digests), "digest", "digests"))
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return c
}

type problem struct {
	Path    string `json:"path,omitempty"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// validateJSON prints the outcome as one JSON document; the exit status is 1 when invalid.
func validateJSON(cmd *cobra.Command, rt *config.Runtime, err error) error {
	report := struct {
		Valid    bool      `json:"valid"`
		Warnings []string  `json:"warnings"`
		Errors   []problem `json:"errors"`
	}{Valid: err == nil, Warnings: []string{}, Errors: []problem{}}
	var be *config.BuildError
	switch {
	case rt != nil:
		report.Warnings = append(report.Warnings, rt.Warnings...)
	case errors.As(err, &be):
		report.Warnings = append(report.Warnings, be.Warnings...)
	}
	for _, e := range leaves(err) {
		var ke *config.KeyError
		if errors.As(e, &ke) {
			report.Errors = append(report.Errors, problem{Path: ke.Path, Line: ke.Line, Message: ke.Msg})
		} else {
			report.Errors = append(report.Errors, problem{Message: e.Error()})
		}
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	if encErr := enc.Encode(report); encErr != nil {
		return encErr
	}
	if err != nil {
		cmd.SilenceErrors = true
		return errSilent
	}
	return nil
}

// errSilent fails a command whose output already said why.
var errSilent = errors.New("")

// leaves flattens joined and wrapped-joined errors into their parts.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	if inner := errors.Unwrap(err); inner != nil {
		if _, ok := inner.(interface{ Unwrap() []error }); ok {
			return leaves(inner)
		}
	}
	return []error{err}
}

// loadRuntime loads and checks the config without opening anything (dry run).
func loadRuntime(path string) (*config.Runtime, error) {
	return buildRuntime(path, config.BuildOptions{Version: version, DryRun: true})
}

// buildRuntime loads the config at path and builds it with opts.
func buildRuntime(path string, opts config.BuildOptions) (*config.Runtime, error) {
	cfg, err := config.Load(path)
	if cfg == nil {
		return nil, fmt.Errorf("%s is invalid:\n%w", path, err)
	}
	// Build adds the template problems to Load's, so one run lists everything.
	rt, err := config.Build(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("%s is invalid:\n%w", path, err)
	}
	return rt, nil
}
