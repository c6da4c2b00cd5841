package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cortexbridge/cortex-bridge/bridge"
	"github.com/cortexbridge/cortex-bridge/config"
)

func newServe() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the bridge: ingest endpoint, delivery workers, digests, health checks and metrics",
		Long: `Run the bridge. SIGHUP (or POST /-/reload with an API key) re-reads the config and the TLS
certificate; an invalid config is refused and the running one stays. SIGTERM or SIGINT drains:
ingest answers 503, running deliveries finish (up to delivery.drain_timeout) and queued ones
are handed back for the next start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), configPath(cmd), log, nil)
		},
	}
}

// serve runs the bridge of the config at cfgPath until ctx is done, then drains; SIGHUP
// reloads it. ready, when set, gets the address once the bridge listens.
func serve(ctx context.Context, cfgPath string, log *slog.Logger, ready func(addr string)) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return fmt.Errorf("%s: invalid config:\n%w", cfgPath, err)
	}
	b, err := bridge.New(ctx, cfg, bridge.Options{ConfigPath: cfgPath, Version: version, Log: log})
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case <-hup:
				_ = b.Reload(context.Background())
			}
		}
	}()
	if ready != nil {
		ready(b.Addr())
	}
	return b.Run(runCtx)
}
