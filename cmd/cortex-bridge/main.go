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
	// SIGHUP is taken by serve (config reload); elsewhere it ends the process as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := execute(ctx, newRoot(os.Stdout, os.Stderr), os.Stderr); err != nil {
		os.Exit(1)
	}
}

// execute runs the command tree and prints a failure once, as "error: …", on errOut: a
// command's own error as well as a usage error (unknown command or flag, missing value).
func execute(ctx context.Context, root *cobra.Command, errOut io.Writer) error {
	err := root.ExecuteContext(ctx)
	if err != nil && err != errSilent {
		fmt.Fprintln(errOut, "error:", err)
	}
	return err
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
	root.AddCommand(newServe(), newValidate(), newRoute(), newSend(), newSign(), newTest(), newDigest(), newDeliveries(), newBench(), newTestRules())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, c.CommandPath())
	})
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

// newLogger logs as text on a terminal and as JSON otherwise (README.md, "Commands").
func newLogger(cmd *cobra.Command) (*slog.Logger, error) {
	var level slog.Level
	name, _ := cmd.Flags().GetString("log-level")
	if err := level.UnmarshalText([]byte(name)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	w := cmd.ErrOrStderr()
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: readableDuration}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}

// readableDuration logs durations as Go writes them ("1.52ms", "30s"), not as a count of
// nanoseconds, which is what slog's JSON handler prints.
func readableDuration(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}
