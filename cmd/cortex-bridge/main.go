// Command cortex-bridge receives signed Cortex scan webhooks, stores them durably, routes them
// with expr rules and delivers notifications to Slack, Discord, email, signed webhooks and an
// audit log. See README.md; `cortex-bridge --help` lists the commands.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot(os.Stdout, os.Stderr).ExecuteContext(ctx); err != nil {
		os.Exit(1)
	}
}

// newRoot builds the command tree writing to out and errOut (tests pass buffers).
func newRoot(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "cortex-bridge",
		Short:         "Turn signed Cortex scan webhooks into Slack, Discord, email and webhook notifications",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.PersistentFlags().String("config", "", "config file (default $CORTEX_BRIDGE_CONFIG, then ./config.yaml)")
	root.PersistentFlags().String("log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(newServe(), newValidate(), newRoute(), newSend(), newSign(), newTest(), newDigest())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, c.CommandPath())
	})
	return wrapErrors(root, errOut)
}

// wrapErrors prints a failing command's error once, as "error: …", on errOut.
func wrapErrors(root *cobra.Command, errOut io.Writer) *cobra.Command {
	for _, c := range root.Commands() {
		wrapErrors(c, errOut)
		run := c.RunE
		if run == nil {
			continue
		}
		c.RunE = func(cmd *cobra.Command, args []string) error {
			err := run(cmd, args)
			if err != nil {
				fmt.Fprintln(errOut, "error:", err)
			}
			return err
		}
	}
	return root
}

// configPath resolves --config, then $CORTEX_BRIDGE_CONFIG, then ./config.yaml.
func configPath(cmd *cobra.Command) string {
	if p, _ := cmd.Flags().GetString("config"); p != "" {
		return p
	}
	if p := os.Getenv("CORTEX_BRIDGE_CONFIG"); p != "" {
		return p
	}
	return "config.yaml"
}

// newLogger logs as text on a terminal and as JSON otherwise (SPEC §9).
func newLogger(cmd *cobra.Command) (*slog.Logger, error) {
	var level slog.Level
	name, _ := cmd.Flags().GetString("log-level")
	if err := level.UnmarshalText([]byte(name)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	w := cmd.ErrOrStderr()
	opts := &slog.HandlerOptions{Level: level}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}
