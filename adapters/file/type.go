package file

import (
	"fmt"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// Type declares the file (audit log) target type. Its default concurrency is 64: through the
// dispatcher an attempt only writes its line (the completion writer's Sync fsyncs them), and a
// direct Notify (`cortex-bridge test`) shares fsyncs spaced by SyncInterval with the calls in flight.
var Type = notify.TargetType{
	Name:      "file",
	NewConfig: func() notify.TargetConfig { return &Config{} },
	New: func(cfg notify.TargetConfig, d notify.Deps) (notify.Notifier, error) {
		return notify.Built(New(cfg.(*Config), WithConcurrency(d.Concurrency)))
	},
	Format:      notify.FormatNone,
	Concurrency: 64,
}

// Paths returns the path to resolve against the config file's folder.
func (c *Config) Paths() []*string { return []*string{&c.Path} }

// Preflight checks, creating nothing, that New could open the path (see CheckPath).
func (c *Config) Preflight() error {
	if err := CheckPath(c.Path); err != nil {
		return fmt.Errorf("path: %w", err)
	}
	return nil
}
